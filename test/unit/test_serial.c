/* serial: a call from inside the function becomes one more round after the current one, never
 * a nested run; a stop flag ends the rounds. */
#include "base/serial.h"
#include "testlib.h"

typedef struct state {
    serial g;
    int depth, max_depth, rounds, calls_inside, stop;
} state;

static void body(void *ud) {
    state *s = ud;
    s->depth++;
    if (s->depth > s->max_depth) s->max_depth = s->depth;
    s->rounds++;
    /* the first two rounds call in again (twice in round 1: still one more round) */
    if (s->rounds <= 2) {
        s->calls_inside++;
        serial_run(&s->g, body, s, &s->stop);
        if (s->rounds == 1) serial_run(&s->g, body, s, &s->stop);
    }
    s->depth--;
}

static void test_no_nesting(void) {
    state s = {0};
    serial_run(&s.g, body, &s, &s.stop);
    CHECK_EQ_INT(s.max_depth, 1);
    CHECK_EQ_INT(s.rounds, 3); /* round 1 and 2 each asked for one more */
    CHECK_EQ_INT(s.g.running, 0);
    serial_run(&s.g, body, &s, NULL); /* usable again afterwards */
    CHECK_EQ_INT(s.rounds, 4);
}

static void stopping_body(void *ud) {
    state *s = ud;
    s->rounds++;
    serial_run(&s->g, stopping_body, s, &s->stop); /* always asks again */
    if (s->rounds == 5) s->stop = 1;
}

static void test_stop_ends_rounds(void) {
    state s = {0};
    serial_run(&s.g, stopping_body, &s, &s.stop);
    CHECK_EQ_INT(s.rounds, 5);
    CHECK_EQ_INT(s.g.running, 0);
}

static void asks_itself(void *ud) {
    state *s = ud;
    if (++s->rounds < 3) s->g.again = 1; /* a function may ask for another round itself */
}

static void test_fn_sets_again(void) {
    state s = {0};
    serial_run(&s.g, asks_itself, &s, NULL);
    CHECK_EQ_INT(s.rounds, 3);
}

int main(void) {
    RUN(test_no_nesting);
    RUN(test_stop_ends_rounds);
    RUN(test_fn_sets_again);
    TEST_MAIN_END();
}
