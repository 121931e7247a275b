/* rgs-accept: the tiny accept loop.  Binds HOST:PORT, and for every TCP
 * connection forks PROGRAM [ARGS...] with the socket as its stdin and
 * stdout and the peer in TCPREMOTEIP / TCPREMOTEPORT (the UCSPI-TCP
 * convention of tcpserver(1)).  What rgs-server runs in front of rgs-verify
 * when socat is not installed.  See rgs-accept(1).
 */
#include "rgs_util.h"

#include <arpa/inet.h>
#include <errno.h>
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

/* running handlers (at most --max-connections) */
static pid_t *kids;
static size_t n_kids;

static void kid_add(pid_t p) { kids[n_kids++] = p; }

static void kid_del(pid_t p)
{
    for (size_t i = 0; i < n_kids; i++)
        if (kids[i] == p) {
            kids[i] = kids[--n_kids];
            return;
        }
}

static void kids_signal(int sig)
{
    for (size_t i = 0; i < n_kids; i++)
        kill(kids[i], sig);
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
    if (conn > STDOUT_FILENO)
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
        {"backlog", required_argument, NULL, 'b'},
        {"grace", required_argument, NULL, 'g'},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    long max_conn = 256, backlog = 1024;
    double grace = 10;
    int c;
    /* '+': stop at the first non-option, so PROGRAM's own options stay its own */
    while ((c = getopt_long(argc, argv, "+c:b:g:vqh", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'c':
            max_conn = strtol(optarg, &end, 10);
            if (*end || max_conn < 1 || max_conn > 1000000)
                rgs_die(RGS_EX_PERM, "option '--max-connections': want 1..1000000, got '%s'", optarg);
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

    kids = rgs_xcalloc((size_t)max_conn, sizeof *kids);
    int lfd = listen_on(host, port, (int)backlog);
    struct sockaddr_storage me;
    socklen_t ml = sizeof me;
    char ip[NI_MAXHOST], pnum[NI_MAXSERV];
    getsockname(lfd, (struct sockaddr *)&me, &ml);
    addr_text((struct sockaddr *)&me, ip, sizeof ip, pnum, sizeof pnum);
    if (strcmp(port, "0") == 0) {
        printf("%s\n", pnum);
        fflush(stdout);
    }
    rgs_info("listening on '%s' port %s: running '%s' per connection, at most %ld at once", ip,
             pnum, prog[0], max_conn);

    unsigned long active = 0;
    while (!got_stop) {
        struct pollfd pfd = {.fd = lfd, .events = POLLIN};
        /* at the limit: wait for a child to finish (the kernel queues connections) */
        int pr = ppoll(&pfd, active < (unsigned long)max_conn ? 1 : 0, NULL, &orig);
        if (got_chld) {
            got_chld = 0;
            active = reap((unsigned)active);
        }
        if (pr <= 0 || !(pfd.revents & POLLIN) || active >= (unsigned long)max_conn)
            continue;
        int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                rgs_warn("accept on port %s: %s; pausing 100 ms", pnum, strerror(errno));
                struct timespec ts = {0, 100 * 1000 * 1000};
                nanosleep(&ts, NULL);
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
            kid_add(p);
        }
        close(conn);
        if (p > 0)
            rgs_debug("connection %lu of %ld: handler %ld", active, max_conn, (long)p);
    }

    close(lfd);
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
