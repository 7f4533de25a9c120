/* SPDX-License-Identifier: Apache-2.0 */
/*
 * redis_fixture.c: a real redis-server for the Check tests (redis_fixture.h).
 *
 * The one idea: the test owns this Redis entirely, a free loopback port and a temp dir, and ends
 * exactly the process it started; without redis-server the test is skipped, never passed.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "redis_fixture.h"
#include "unit_main.h"

#define REDIS_START_WAIT_MS 5000
#define REDIS_POLL_MS 20
#define REDIS_PING_TIMEOUT_US 200000
#define REDIS_RAW_TIMEOUT_S 2
#define REDIS_DIR_MAX 256
/* Exit status the automake harness reports as SKIP. */
#define EXIT_SKIP 77

int free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        abort();
    }
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int redis_answers(int port)
{
    struct timeval tv = {0, REDIS_PING_TIMEOUT_US};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    redisReply *r = c && !c->err ? redisCommand(c, "PING") : NULL;
    int ok = r != NULL; /* PONG, or NOAUTH from a server with a password: up either way */

    if (r) {
        freeReplyObject(r);
    }
    if (c) {
        redisFree(c);
    }
    return ok;
}

pid_t redis_start(int port, const char *dir, const char *opt, const char *value)
{
    char port_text[16];
    pid_t pid;
    int waited;

    snprintf(port_text, sizeof(port_text), "%d", port);
    pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);

        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        execlp(REDIS_BIN, REDIS_BIN, "--port", port_text, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", dir, "--daemonize", "no", opt ? opt : "--loglevel",
               opt ? value : "warning", (char *)NULL);
        _exit(127);
    }
    for (waited = 0; waited < REDIS_START_WAIT_MS; waited += REDIS_POLL_MS) {
        if (redis_answers(port)) {
            return pid;
        }
        usleep(REDIS_POLL_MS * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

void redis_stop(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
}

redisReply *raw(int port, const char *fmt, ...)
{
    struct timeval tv = {REDIS_RAW_TIMEOUT_S, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    redisReply *r;
    va_list ap;

    ck_assert(c != NULL && !c->err);
    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    ck_assert_ptr_nonnull(r);
    return r;
}

int redis_fixture_main(Suite *(*suite)(void), int *port, const char *what)
{
    char dir[REDIS_DIR_MAX];
    pid_t pid;
    int rv;

    if (system("command -v " REDIS_BIN " >/dev/null 2>&1") != 0) {
        printf("SKIP: %s is not installed (apt-get install redis-server): %s not tested\n",
               REDIS_BIN, what);
        return EXIT_SKIP;
    }
    snprintf(dir, sizeof(dir), "/tmp/autotls_redis_fixture.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return EXIT_FAILURE;
    }
    *port = free_port();
    if ((pid = redis_start(*port, dir, NULL, NULL)) < 0) {
        printf("FAIL: %s did not start on 127.0.0.1:%d\n", REDIS_BIN, *port);
        rmdir(dir);
        return EXIT_FAILURE;
    }
    rv = at_unit_run(suite());
    redis_stop(pid);
    rmdir(dir);
    return rv;
}
