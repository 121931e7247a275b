/* tap.h: TAP output for the C unit tests ("ok N - name" / "not ok N - name";
 * tests/run counts them).  Header-only: include it once, in the test file. */
#ifndef RGS_TAP_H
#define RGS_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int n_test, n_fail;

/* ok: one check named `name` (printed as given); passes when cond != 0 */
__attribute__((unused)) static void ok(int cond, const char *name)
{
    n_test++;
    if (!cond)
        n_fail++;
    printf("%sok %d - %s\n", cond ? "" : "not ", n_test, name);
    fflush(stdout);
}

/* okf: the same with a printf-formatted name */
__attribute__((unused, format(printf, 2, 3))) static void okf(int cond, const char *fmt, ...)
{
    va_list ap;
    n_test++;
    if (!cond)
        n_fail++;
    printf("%sok %d - ", cond ? "" : "not ", n_test);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* tap_done: print the plan; returns the exit status (1 if a check failed) */
__attribute__((unused)) static int tap_done(void)
{
    printf("1..%d\n", n_test);
    return n_fail ? 1 : 0;
}

#endif
