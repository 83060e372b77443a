/* container: recovers the struct that embeds a member (a libev watcher, a
 * list link) from a pointer to that member. */
#ifndef SURGE_CONTAINER_H
#define SURGE_CONTAINER_H

#include <stddef.h>

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

#endif
