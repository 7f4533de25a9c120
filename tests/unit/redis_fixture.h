/* SPDX-License-Identifier: Apache-2.0 */
/*
 * redis_fixture.h: a real redis-server for the Check tests of the Redis store and the fleet,
 * started by the test itself on a free loopback port (no persistence, a temp dir), stopped by
 * pid; and raw commands around the library.
 */
#ifndef AT_REDIS_FIXTURE_H
#define AT_REDIS_FIXTURE_H

#include <check.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

#define REDIS_BIN "redis-server"

/* A loopback TCP port nobody listens on now. */
int free_port(void);

/* Starts redis-server on port with dir as its working dir; opt, value: one more "--opt value"
 * pair (or NULL). Its pid once it answers PING, -1 when it did not. */
pid_t redis_start(int port, const char *dir, const char *opt, const char *value);

/* Stops what redis_start started (SIGTERM, then waits for it). */
void redis_stop(pid_t pid);

/* One command to the Redis on port, around the library (the caller frees the reply). */
redisReply *raw(int port, const char *fmt, ...);

/* The main() of a test against Redis: skips (exit 77) without redis-server, else runs the suite
 * against a shared server started on *port (what the suite's tests use), then stops it. */
int redis_fixture_main(Suite *(*suite)(void), int *port, const char *what);

#endif
