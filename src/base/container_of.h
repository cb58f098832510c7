/* container_of: the struct that holds a member, from a pointer to that member. Callbacks of
 * handles embedded in our structs (a retry_timer inside a call, a slot or a job) get the
 * handle back, and this finds the struct around it without a back pointer. */
#ifndef CTINDEX_CONTAINER_OF_H
#define CTINDEX_CONTAINER_OF_H

#include <stddef.h>

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - (size_t)offsetof(type, member)))

#endif
