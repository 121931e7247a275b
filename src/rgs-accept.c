/* rgs-accept: the tiny accept loop.  Binds HOST:PORT, and for every TCP
 * connection forks PROGRAM [ARGS...] with the socket as its stdin and
 * stdout and the peer in TCPREMOTEIP / TCPREMOTEPORT (the UCSPI-TCP
 * convention of tcpserver(1)).  The hardened listener in front of
 * rgs-verify: besides the limit on connections at once it limits
 * connections per peer address (an IPv4 address, an IPv6 /64), and near
 * its limit it tells the handlers, through a pipe on RGS_PRESSURE_FD, to
 * give up idle keep-alive connections, so one client cannot hold every
 * slot (socat can do neither).  See rgs-accept(1).
 */
#include "rgs_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_chld, got_stop;
static void on_chld(int s) { (void)s; got_chld = 1; }
static void on_stop(int s) { (void)s; got_stop = 1; }

static void usage(FILE *f)
{
    fputs("Usage: rgs-accept [OPTIONS] HOST PORT PROGRAM [ARGS...]\n"
          "\n"
          "Listen on HOST:PORT (HOST may be an address, a name, or '*' / '0.0.0.0' / '::'\n"
          "for all) and run PROGRAM for every connection, with the socket on its stdin\n"
          "and stdout and TCPREMOTEIP, TCPREMOTEPORT, TCPLOCALIP, TCPLOCALPORT and\n"
          "PROTO=TCP in its environment.  PORT 0 picks a free port and prints it on\n"
          "stdout (one line) once listening.\n"
          "\n"
          "Options:\n"
          "  -c, --max-connections N  at most N connections at once (256); more wait in\n"
          "                           the kernel's listen queue\n"
          "  -p, --max-per-peer N     at most N connections at once from one peer (an\n"
          "                           IPv4 address, an IPv6 /64); more are closed at\n"
          "                           once (32; 0: no limit, e.g. behind a proxy)\n"
          "  -B, --busy-at N          from N running connections on, PROGRAM is told to\n"
          "                           close idle keep-alive connections early: fd 3,\n"
          "                           RGS_PRESSURE_FD=3, a pipe readable while busy\n"
          "                           (3/4 of --max-connections; 0: never)\n"
          "  -b, --backlog N          listen queue length (1024)\n"
          "  -g, --grace SECONDS      on SIGTERM/SIGINT: stop listening, wait this long for\n"
          "                           running connections, then SIGTERM them (10)\n"
          "  -v, --verbose            log every connection; -q, --quiet: warnings only\n"
          "  -h, --help               this text;  --version\n"
          "\n"
          "Exit status: 0 stopped by a signal, 100 bad usage, 111 cannot listen\n"
          "(address in use, no permission).\n",
          f);
}

static void addr_text(const struct sockaddr *sa, char *ip, size_t iplen, char *port, size_t plen)
{
    if (getnameinfo(sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                   : sizeof(struct sockaddr_in),
                    ip, (socklen_t)iplen, port, (socklen_t)plen,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(ip, iplen, "?");
        snprintf(port, plen, "?");
    }
    /* IPv4-mapped IPv6 peers are shown as IPv4 */
    if (strncmp(ip, "::ffff:", 7) == 0 && strchr(ip + 7, '.'))
        memmove(ip, ip + 7, strlen(ip + 7) + 1);
}

static int listen_on(const char *host, const char *port, int backlog)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (strcmp(host, "*") == 0)
        host = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0)
        rgs_die(RGS_EX_PERM, "address '%s' port '%s': %s", host ? host : "*", port,
                gai_strerror(rc));
    int fd = -1, err = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1, zero = 0;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
            err = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        rgs_die(RGS_EX_TEMP, "listen on '%s' port '%s': %s", host ? host : "*", port,
                strerror(err));
    return fd;
}

/* running handlers (at most --max-connections), with their peer */
typedef struct {
    pid_t pid;
    unsigned char peer[16]; /* peer_key() */
} kid_t;
static kid_t *kids;
static size_t n_kids;

/* the address a per-peer limit counts: an IPv4 address (also when
 * IPv4-mapped), or the /64 prefix of an IPv6 address (one subscriber's
 * network: a host on it can use any of its 2^64 addresses) */
static void peer_key(const struct sockaddr_storage *ss, unsigned char key[16])
{
    memset(key, 0, 16);
    if (ss->ss_family == AF_INET) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    } else if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        memcpy(key, a, IN6_IS_ADDR_V4MAPPED(a) ? 16 : 8);
    }
}

static size_t peer_count(const unsigned char key[16])
{
    size_t k = 0;
    for (size_t i = 0; i < n_kids; i++)
        k += memcmp(kids[i].peer, key, 16) == 0;
    return k;
}

static void kid_add(pid_t p, const unsigned char key[16])
{
    kids[n_kids].pid = p;
    memcpy(kids[n_kids].peer, key, 16);
    n_kids++;
}

static void kid_del(pid_t p)
{
    for (size_t i = 0; i < n_kids; i++)
        if (kids[i].pid == p) {
            kids[i] = kids[--n_kids];
            return;
        }
}

static void kids_signal(int sig)
{
    for (size_t i = 0; i < n_kids; i++)
        kill(kids[i].pid, sig);
}

static unsigned reap(unsigned active)
{
    int st;
    pid_t p;
    while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
        if (active)
            active--;
        kid_del(p);
        if (WIFSIGNALED(st))
            rgs_warn("connection handler %ld: killed by signal %d", (long)p, WTERMSIG(st));
        else
            rgs_debug("connection handler %ld: exit status %d", (long)p, WEXITSTATUS(st));
    }
    return active;
}

/* the pressure pipe: holds one byte while busy (near the limit, or
 * stopping); every handler has its read end as fd 3 and polls it */
#define PRESSURE_FD 3
#define PRESSURE_HOLD 2.0 /* seconds the byte stays after the last busy moment,
                             so every handler wakes up and sees it */
static int press_r = -1, press_w = -1;
static bool pressed;
static double pressed_until; /* rgs_mono() */

/* busy now (`on`) or not; the byte is taken out only PRESSURE_HOLD
 * seconds after the last busy moment.  Returns the seconds until it
 * should be looked at again (-1: no need). */
static double pressure(bool on)
{
    if (press_w < 0)
        return -1;
    double now = rgs_mono();
    char c = 'b';
    if (on) {
        pressed_until = now + PRESSURE_HOLD;
        if (!pressed && write(press_w, &c, 1) == 1) {
            pressed = true;
            rgs_debug("handlers told: busy, close idle connections");
        }
        return -1;
    }
    if (!pressed)
        return -1;
    if (now < pressed_until)
        return pressed_until - now;
    if (read(press_r, &c, 1) == 1 || errno == EAGAIN) {
        pressed = false;
        rgs_debug("handlers told: not busy");
    }
    return -1;
}

static void child(int conn, int lfd, char **prog, const sigset_t *orig)
{
    struct sockaddr_storage peer, local;
    socklen_t pl = sizeof peer, ll = sizeof local;
    char ip[NI_MAXHOST], port[NI_MAXSERV];
    if (getpeername(conn, (struct sockaddr *)&peer, &pl) == 0) {
        addr_text((struct sockaddr *)&peer, ip, sizeof ip, port, sizeof port);
        setenv("TCPREMOTEIP", ip, 1);
        setenv("TCPREMOTEPORT", port, 1);
    }
    if (getsockname(conn, (struct sockaddr *)&local, &ll) == 0) {
        addr_text((struct sockaddr *)&local, ip, sizeof ip, port, sizeof port);
        setenv("TCPLOCALIP", ip, 1);
        setenv("TCPLOCALPORT", port, 1);
    }
    setenv("PROTO", "TCP", 1);
    close(lfd);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    sigprocmask(SIG_SETMASK, orig, NULL);
    if (dup2(conn, STDIN_FILENO) < 0 || dup2(conn, STDOUT_FILENO) < 0)
        _exit(RGS_EX_TEMP);
    if (press_r >= 0) { /* the pressure pipe as fd 3 (without FD_CLOEXEC) */
        if (press_r == PRESSURE_FD ? fcntl(press_r, F_SETFD, 0) < 0
                                   : dup2(press_r, PRESSURE_FD) < 0)
            _exit(RGS_EX_TEMP);
        char num[8];
        snprintf(num, sizeof num, "%d", PRESSURE_FD);
        setenv("RGS_PRESSURE_FD", num, 1);
    } else {
        unsetenv("RGS_PRESSURE_FD");
    }
    if (conn > STDOUT_FILENO && !(press_r >= 0 && conn == PRESSURE_FD))
        close(conn);
    execvp(prog[0], prog);
    rgs_error("run '%s': %s", prog[0], strerror(errno));
    _exit(errno == ENOENT ? RGS_EX_PERM : RGS_EX_TEMP);
}

int main(int argc, char **argv)
{
    rgs_set_progname(argv[0]);
    static const struct option opts[] = {
        {"max-connections", required_argument, NULL, 'c'},
        {"max-per-peer", required_argument, NULL, 'p'},
        {"busy-at", required_argument, NULL, 'B'},
        {"backlog", required_argument, NULL, 'b'},
        {"grace", required_argument, NULL, 'g'},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    long max_conn = 256, backlog = 1024, per_peer = 32, busy_at = -1;
    double grace = 10;
    int c;
    /* '+': stop at the first non-option, so PROGRAM's own options stay its own */
    while ((c = getopt_long(argc, argv, "+c:p:B:b:g:vqh", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'c':
            max_conn = strtol(optarg, &end, 10);
            if (*end || max_conn < 1 || max_conn > 1000000)
                rgs_die(RGS_EX_PERM, "option '--max-connections': want 1..1000000, got '%s'", optarg);
            break;
        case 'p':
            per_peer = strtol(optarg, &end, 10);
            if (*end || !*optarg || per_peer < 0 || per_peer > 1000000)
                rgs_die(RGS_EX_PERM, "option '--max-per-peer': want 0..1000000, got '%s'", optarg);
            break;
        case 'B':
            busy_at = strtol(optarg, &end, 10);
            if (*end || !*optarg || busy_at < 0 || busy_at > 1000000)
                rgs_die(RGS_EX_PERM, "option '--busy-at': want 0..1000000, got '%s'", optarg);
            break;
        case 'b':
            backlog = strtol(optarg, &end, 10);
            if (*end || backlog < 1 || backlog > 65535)
                rgs_die(RGS_EX_PERM, "option '--backlog': want 1..65535, got '%s'", optarg);
            break;
        case 'g':
            if (!rgs_parse_seconds(optarg, &grace))
                rgs_die(RGS_EX_PERM, "option '--grace': want seconds, got '%s'", optarg);
            break;
        case 'v': rgs_verbosity++; break;
        case 'q': rgs_verbosity = RGS_WARN; break;
        case 'h': usage(stdout); return RGS_EX_OK;
        case 'V': printf("rgs-accept %s\n", RGS_VERSION); return RGS_EX_OK;
        default: usage(stderr); return RGS_EX_PERM;
        }
    }
    if (argc - optind < 3) {
        usage(stderr);
        return RGS_EX_PERM;
    }
    const char *host = argv[optind], *port = argv[optind + 1];
    char **prog = argv + optind + 2;

    sigset_t block, orig;
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, &orig);
    struct sigaction sa = {0};
    sa.sa_handler = on_chld;
    sigaction(SIGCHLD, &sa, NULL);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (busy_at < 0)
        busy_at = max_conn * 3 / 4 > 0 ? max_conn * 3 / 4 : 1;
    kids = rgs_xcalloc((size_t)max_conn, sizeof *kids);
    int lfd = listen_on(host, port, (int)backlog);
    if (busy_at > 0) {
        int pp[2];
        if (pipe2(pp, O_CLOEXEC | O_NONBLOCK) < 0)
            rgs_die(RGS_EX_TEMP, "pipe: %s", strerror(errno));
        press_r = pp[0];
        press_w = pp[1];
    }
    struct sockaddr_storage me;
    socklen_t ml = sizeof me;
    char ip[NI_MAXHOST], pnum[NI_MAXSERV];
    getsockname(lfd, (struct sockaddr *)&me, &ml);
    addr_text((struct sockaddr *)&me, ip, sizeof ip, pnum, sizeof pnum);
    if (strcmp(port, "0") == 0) {
        printf("%s\n", pnum);
        fflush(stdout);
    }
    rgs_info("listening on '%s' port %s: running '%s' per connection, at most %ld at once, "
             "%ld per peer%s, busy from %ld", ip, pnum, prog[0], max_conn, per_peer,
             per_peer ? "" : " (no limit)", busy_at);
    double last_refusal_log = -1e9;
    unsigned long refused = 0;

    unsigned long active = 0;
    double recheck = -1; /* seconds until the pressure byte may go */
    while (!got_stop) {
        struct pollfd pfd = {.fd = lfd, .events = POLLIN};
        struct timespec ts = {(time_t)recheck, (long)((recheck - (double)(time_t)recheck) * 1e9) + 1};
        /* at the limit: wait for a child to finish (the kernel queues connections) */
        int pr = ppoll(&pfd, active < (unsigned long)max_conn ? 1 : 0, recheck >= 0 ? &ts : NULL,
                       &orig);
        if (got_chld) {
            got_chld = 0;
            active = reap((unsigned)active);
        }
        recheck = pressure(busy_at > 0 && active >= (unsigned long)busy_at);
        if (pr <= 0 || !(pfd.revents & POLLIN) || active >= (unsigned long)max_conn)
            continue;
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        memset(&peer, 0, sizeof peer);
        int conn = accept4(lfd, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
        if (conn < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                rgs_warn("accept on port %s: %s; pausing 100 ms", pnum, strerror(errno));
                struct timespec pause = {0, 100 * 1000 * 1000};
                nanosleep(&pause, NULL);
            }
            continue;
        }
        unsigned char key[16];
        peer_key(&peer, key);
        if (per_peer > 0 && peer_count(key) >= (size_t)per_peer) {
            /* this peer has its share: close at once (it may come back
             * when one of its connections ends) */
            close(conn);
            refused++;
            if (rgs_mono() - last_refusal_log >= 10) {
                char rip[NI_MAXHOST], rport[NI_MAXSERV];
                addr_text((struct sockaddr *)&peer, rip, sizeof rip, rport, sizeof rport);
                rgs_warn("peer '%s': %ld connections already (--max-per-peer); closed %lu "
                         "connection(s) of peers at their limit", rip, per_peer, refused);
                last_refusal_log = rgs_mono();
                refused = 0;
            }
            continue;
        }
        pid_t p = fork();
        if (p == 0) {
            /* dup2 clears FD_CLOEXEC on 0/1; the original fd is closed by exec */
            child(conn, lfd, prog, &orig);
        }
        if (p < 0)
            rgs_warn("fork for a connection on port %s: %s; connection dropped", pnum,
                     strerror(errno));
        else {
            active++;
            kid_add(p, key);
            recheck = pressure(busy_at > 0 && active >= (unsigned long)busy_at);
        }
        close(conn);
        if (p > 0)
            rgs_debug("connection %lu of %ld: handler %ld", active, max_conn, (long)p);
    }

    close(lfd);
    pressure(true); /* handlers: close idle keep-alive connections now */
    rgs_info("stopping: no longer listening on port %s; %lu connection(s) still running", pnum,
             active);
    double deadline = rgs_mono() + grace;
    bool termed = false;
    while (active > 0) {
        active = reap((unsigned)active);
        if (!active)
            break;
        if (!termed && rgs_mono() >= deadline) {
            rgs_warn("%lu connection(s) still running after %.0f s: sending SIGTERM", active, grace);
            kids_signal(SIGTERM);
            termed = true;
            deadline = rgs_mono() + 5;
        } else if (termed && rgs_mono() >= deadline) {
            kids_signal(SIGKILL);
            deadline = rgs_mono() + 5;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        nanosleep(&ts, NULL);
        sigprocmask(SIG_BLOCK, &block, NULL);
    }
    free(kids);
    return RGS_EX_OK;
}
