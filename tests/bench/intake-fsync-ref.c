/* Reference for bench-intake.sh: the disk's own floor for durable appends.
 * N processes append 350-byte lines to one file (flock-serialised write,
 * then fdatasync, as rgs_spool_put does) for S seconds, no HTTP, no JSON.
 * Prints "rate p50_ms p99_ms max_ms".
 *   cc -O2 -o ref intake-fsync-ref.c && ./ref 200 10 /tmp/x/log */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    int n = atoi(argv[1]);
    double secs = atof(argv[2]);
    int pfd[2];
    if (pipe(pfd) < 0)
        return 1;
    unlink(argv[3]);
    for (int k = 0; k < n; k++) {
        if (fork() == 0) {
            int fd = open(argv[3], O_WRONLY | O_APPEND | O_CREAT, 0600);
            char line[350];
            memset(line, 'x', sizeof line - 1);
            line[sizeof line - 1] = '\n';
            double end = mono() + secs;
            while (mono() < end) {
                double t = mono();
                flock(fd, LOCK_EX);
                if (write(fd, line, sizeof line) != (ssize_t)sizeof line)
                    _exit(1);
                flock(fd, LOCK_UN);
                fdatasync(fd);
                t = mono() - t;
                if (write(pfd[1], &t, sizeof t) != (ssize_t)sizeof t)
                    _exit(1);
            }
            _exit(0);
        }
    }
    close(pfd[1]);
    size_t cap = 1 << 20, m = 0;
    double *lat = malloc(cap * sizeof *lat), t;
    while (read(pfd[0], &t, sizeof t) == (ssize_t)sizeof t) {
        if (m == cap)
            lat = realloc(lat, (cap *= 2) * sizeof *lat);
        lat[m++] = t;
    }
    while (wait(NULL) > 0)
        ;
    unlink(argv[3]);
    if (!m)
        return 1;
    qsort(lat, m, sizeof *lat, cmp);
    printf("%.0f %.1f %.1f %.1f\n", m / secs, lat[m / 2] * 1000, lat[m * 99 / 100] * 1000, lat[m - 1] * 1000);
    return 0;
}
