/* A tiny TAP test harness: CHECK(cond) records a result line per check. */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_n, check_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        ++check_n;                                                                                 \
        if (cond) {                                                                                \
            printf("ok %d - %s\n", check_n, #cond);                                                \
        } else {                                                                                   \
            ++check_failed;                                                                        \
            printf("not ok %d - %s (%s:%d)\n", check_n, #cond, __FILE__, __LINE__);                \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *check_a_ = (a), *check_b_ = (b);                                               \
        ++check_n;                                                                                 \
        if (check_a_ && check_b_ && strcmp(check_a_, check_b_) == 0) {                             \
            printf("ok %d - %s == \"%s\"\n", check_n, #a, check_b_);                               \
        } else {                                                                                   \
            ++check_failed;                                                                        \
            printf("not ok %d - %s: got \"%s\", want \"%s\" (%s:%d)\n", check_n, #a,               \
                   check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)", __FILE__,       \
                   __LINE__);                                                                      \
        }                                                                                          \
    } while (0)

/* Call last in main: prints the plan and returns the exit code. */
static inline int check_done(void)
{
    printf("1..%d\n", check_n);
    return check_failed ? 1 : 0;
}
