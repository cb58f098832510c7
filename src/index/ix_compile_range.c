/* Dates and numbers: a value or a range as conditions on the document rows (the row id's hour
 * for event_time, the packed slots for the others). */
#include "index/ix_search_internal.h"
#include "index/ixvalue.h"

static int parse_scalar(ix_cctx *cc, const ixf_field *f, qp_str s, int64_t *out) {
    const char *v = qp_s(cc->t, s);
    if (f->kind == IXF_DATE) {
        if (ixvalue_date(v, s.len, out) != 0)
            return ix__qfail(cc, "'%.40s' is not a date for %s (RFC 3339 in UTC: yyyy-mm-ddTHH:mm:ssZ)", v,
                             f->sf->name);
        return 0;
    }
    if (ixvalue_int(v, out) != 0) return ix__qfail(cc, "'%.40s' is not an integer for %s", v, f->sf->name);
    return 0;
}

/* The first row id of an hour (row ids are hour << IX_SEQ_BITS | sequence), hours clamped to
 * [0, IX_MAX_HOUR]. */
static int64_t hour_row(int64_t hour) {
    if (hour < 0) hour = 0;
    if (hour > IX_MAX_HOUR) hour = IX_MAX_HOUR;
    return (int64_t)((uint64_t)hour << IX_SEQ_BITS);
}

int ix__slot_leaf(ix_cctx *cc, const qnode *nd, const ixf_field *f, ix_frag *out) {
    int64_t lo = INT64_MIN, hi = INT64_MAX;
    if (nd->kind == QN_RANGE) {
        if (nd->lo.present && parse_scalar(cc, f, nd->lo, &lo) != 0) return -1;
        if (nd->hi.present && parse_scalar(cc, f, nd->hi, &hi) != 0) return -1;
        if (nd->lo.present && !nd->lo_incl) {
            if (lo == INT64_MAX) return out->kind = FR_FALSE, 0;
            lo++;
        }
        if (nd->hi.present && !nd->hi_incl) {
            if (hi == INT64_MIN) return out->kind = FR_FALSE, 0;
            hi--;
        }
    } else if (nd->kind == QN_TERM) {
        if (parse_scalar(cc, f, nd->value, &lo) != 0) return -1;
        hi = lo;
    } else {
        return ix__qfail(cc, "%s is a %s field: use a value or a range", f->sf->name,
                         schema_cs_type_name(f->sf->cs_type));
    }
    if (lo > hi) return out->kind = FR_FALSE, 0;
    out->kind = FR_SQL;
    int bl = ix__bind_int(cc, lo), bh = ix__bind_int(cc, hi);
    if (bl < 0 || bh < 0) return -1;
    int rc;
    if (f->is_time) {
        /* The row id's hour narrows the rows; in the hours the range covers whole, every row
         * matches without reading t (a one-day count then walks row ids only). Hour 0 (documents
         * without a time) and the last hour (times past it are kept there) are always checked. */
        const int64_t H = 3600000, mask = (INT64_C(1) << IX_SEQ_BITS) - 1;
        int64_t hlo = lo <= 0 ? 0 : (lo / H > IX_MAX_HOUR ? IX_MAX_HOUR : lo / H);
        int64_t hhi = hi < 0 ? -1 : (hi / H > IX_MAX_HOUR ? IX_MAX_HOUR : hi / H);
        int64_t full_lo = (lo > 0 && lo % H == 0) ? hlo : hlo + 1;
        int64_t full_hi = (hi >= 0 && hi % H == H - 1 && hhi < IX_MAX_HOUR) ? hhi : hhi - 1;
        if (full_lo < 1) full_lo = 1;
        int brl = ix__bind_int(cc, hhi < 0 ? 0 : hour_row(hlo)),
            brh = ix__bind_int(cc, hhi < 0 ? -1 : hour_row(hhi) | mask);
        if (brl < 0 || brh < 0) return -1;
        if (full_lo <= full_hi) {
            int bfl = ix__bind_int(cc, hour_row(full_lo)), bfh = ix__bind_int(cc, hour_row(full_hi) | mask);
            if (bfl < 0 || bfh < 0) return -1;
            rc = buf_printf(
                &out->b, "(d.rowid BETWEEN ?%d AND ?%d AND (d.rowid BETWEEN ?%d AND ?%d OR d.t BETWEEN ?%d AND ?%d))",
                brl, brh, bfl, bfh, bl, bh);
        } else {
            rc = buf_printf(&out->b, "(d.rowid BETWEEN ?%d AND ?%d AND d.t BETWEEN ?%d AND ?%d)", brl, brh, bl, bh);
        }
    } else {
        rc = buf_printf(&out->b, "(ctslot(d.p, %d) BETWEEN ?%d AND ?%d)", f->slot, bl, bh);
    }
    return rc ? ix__qfail(cc, "the query is too long") : 0;
}
