/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mod_autotls_attack.c: a hostile tenant inside an httpd child, for the integration tests only.
 *
 * The one idea: code running as User in a child (mod_php, a module, anything) tries every way
 * it has to rewrite the shared certificate slots, and writes down each attempt and its result,
 * one line each, so that the test can assert that all of them failed. It finds the slots the
 * way an attacker would: by the memfd's name in /proc/self/maps, or by the slots' magic at the
 * start of any shared mapping (which is how the old anonymous mapping is found). When a write
 * does go through, it carries out the real attack: site 0's key and chain copied into site 1's
 * slot under a new generation, so that every child serves site 0's certificate for site 1.
 *
 * Report lines: "ATTEMPT <what>: SUCCEEDED" or "ATTEMPT <what>: FAILED (<why>)", "FOUND <what>",
 * "INFO <what>", and "DONE uid=<uid> pid=<pid> slot_mappings=<n>" last. Never load it in
 * production.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#define ATTACK_LINE 1024
#define ATTACK_MAPS_LINE 1024
#define ATTACK_MAX_MAPPINGS 256
#define ATTACK_MEMFD_NAME "memfd:autotls-slots"
/* The slots' layout as slots.c lays it out: what an attacker reads from the source. */
#define ATTACK_SLOTS_MAGIC 0x61746c73u
#define ATTACK_CACHE_LINE 64
#define ATTACK_SLOT_DATA_MAX (16 * 1024)
#define ATTACK_HALVES 2
#define ATTACK_SLOT_META_BYTES 104 /* sizeof(slots_slot_t) */
#define ATTACK_GENERATION_STEP 2
#define ATTACK_GROW_BYTES 4096

module AP_MODULE_DECLARE_DATA autotls_attack_module;

typedef struct {
    const char *report;
} attack_conf_t;

typedef struct {
    unsigned long start;
    unsigned long end;
    char perms[8];
    char path[PATH_MAX];
} attack_mapping_t;

static int attack_fd = -1;
static sigjmp_buf attack_jump;
static volatile sig_atomic_t attack_armed;

static void attack_say(const char *fmt, ...)
{
    char line[ATTACK_LINE];
    va_list ap;
    int len;

    va_start(ap, fmt);
    len = apr_vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (attack_fd < 0 || len < 0) {
        return;
    }
    line[len++] = '\n';
    if (write(attack_fd, line, (size_t)len) < 0) {
        return;
    }
}

static void attack_result(const char *what, int ok, int err)
{
    if (ok) {
        attack_say("ATTEMPT %s: SUCCEEDED", what);
    } else {
        attack_say("ATTEMPT %s: FAILED (%s)", what, strerror(err));
    }
}

static void attack_on_fault(int sig)
{
    if (attack_armed) {
        attack_armed = 0;
        siglongjmp(attack_jump, sig);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* One load or store under a SIGSEGV/SIGBUS guard: 0 when it went through, the signal
 * otherwise. */
static int attack_guarded(volatile unsigned char *at, int store, unsigned char *value)
{
    struct sigaction act, old_segv, old_bus;
    int sig;

    memset(&act, 0, sizeof(act));
    act.sa_handler = attack_on_fault;
    sigemptyset(&act.sa_mask);
    sigaction(SIGSEGV, &act, &old_segv);
    sigaction(SIGBUS, &act, &old_bus);
    sig = sigsetjmp(attack_jump, 1);
    if (sig == 0) {
        attack_armed = 1;
        if (store) {
            *at = *value;
        } else {
            *value = *at;
        }
        attack_armed = 0;
    }
    sigaction(SIGSEGV, &old_segv, NULL);
    sigaction(SIGBUS, &old_bus, NULL);
    return sig;
}

/* The real attack once a write works: slot 0's set into slot 1, generation moved on. */
static void attack_copy_slot(unsigned char *base, apr_size_t size)
{
    uint32_t count = ((uint32_t *)base)[1];
    apr_size_t stride = APR_ALIGN(ATTACK_SLOT_META_BYTES, ATTACK_CACHE_LINE);
    apr_size_t head = ATTACK_CACHE_LINE;
    apr_size_t data = APR_ALIGN(head + count * stride, ATTACK_CACHE_LINE);
    apr_size_t half = ATTACK_SLOT_DATA_MAX;
    uint32_t *src, *dst;

    if (count < 2 || data + count * ATTACK_HALVES * half > size) {
        attack_say("INFO slots hold %u sites: nothing to copy", (unsigned)count);
        return;
    }
    src = (uint32_t *)(base + head);
    dst = (uint32_t *)(base + head + stride);
    memcpy(base + data + ATTACK_HALVES * half, base + data, ATTACK_HALVES * half);
    memcpy(dst + 1, src + 1, ATTACK_SLOT_META_BYTES - sizeof(uint32_t));
    __atomic_store_n(dst, (dst[0] & ~1u) + ATTACK_GENERATION_STEP, __ATOMIC_RELEASE);
    attack_say("ATTEMPT copy site 0's certificate and key into site 1's slot: SUCCEEDED");
}

static int attack_read_maps(attack_mapping_t *maps, int max)
{
    char line[ATTACK_MAPS_LINE];
    FILE *f = fopen("/proc/self/maps", "re");
    int n = 0;

    if (f == NULL) {
        attack_say("INFO cannot read /proc/self/maps: %s", strerror(errno));
        return 0;
    }
    while (n < max && fgets(line, sizeof(line), f) != NULL) {
        attack_mapping_t *m = &maps[n];
        int used = 0;

        m->path[0] = '\0';
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s%n", &m->start, &m->end, m->perms, &used) < 3) {
            continue;
        }
        apr_cpystrn(m->path, line + used + strspn(line + used, " "), sizeof(m->path));
        m->path[strcspn(m->path, "\n")] = '\0';
        n++;
    }
    fclose(f);
    return n;
}

/* A shared mapping that holds the slots: named for them, or starting with their magic. */
static int attack_is_slots(const attack_mapping_t *m)
{
    unsigned char bytes[sizeof(uint32_t)];
    uint32_t magic;
    apr_size_t i;

    if (m->perms[3] != 's') {
        return 0;
    }
    if (strstr(m->path, ATTACK_MEMFD_NAME) != NULL) {
        return 1;
    }
    if (m->perms[0] != 'r' || m->end - m->start < ATTACK_CACHE_LINE) {
        return 0;
    }
    for (i = 0; i < sizeof(magic); i++) {
        if (attack_guarded((volatile unsigned char *)m->start + i, 0, &bytes[i]) != 0) {
            return 0;
        }
    }
    memcpy(&magic, bytes, sizeof(magic));
    return magic == ATTACK_SLOTS_MAGIC;
}

static void attack_mapping(const attack_mapping_t *m)
{
    void *base = (void *)m->start;
    apr_size_t size = m->end - m->start;
    char what[ATTACK_LINE];
    char path[PATH_MAX];
    int writable = m->perms[1] == 'w';
    unsigned char byte = 0;
    int fd;

    attack_say("FOUND slots mapping %lx-%lx %s %s", m->start, m->end, m->perms, m->path);
    if (writable) {
        attack_say("ATTEMPT inherit a writable mapping of the slots (%s): SUCCEEDED", m->perms);
    }
    apr_snprintf(what, sizeof(what), "mprotect slots mapping %lx to PROT_READ|PROT_WRITE",
                 m->start);
    if (mprotect(base, size, PROT_READ | PROT_WRITE) == 0) {
        attack_result(what, 1, 0);
        writable = 1;
    } else {
        attack_result(what, 0, errno);
    }
    apr_snprintf(what, sizeof(what), "mprotect slots mapping %lx to PROT_WRITE", m->start);
    attack_result(what, mprotect(base, size, PROT_WRITE) == 0, errno);
    mprotect(base, size, writable ? PROT_READ | PROT_WRITE : PROT_READ);
    apr_snprintf(what, sizeof(what), "store a byte through slots mapping %lx", m->start);
    if (attack_guarded((volatile unsigned char *)base, 0, &byte) == 0 &&
        attack_guarded((volatile unsigned char *)base, 1, &byte) == 0) {
        attack_result(what, 1, 0);
        attack_copy_slot(base, size);
    } else {
        attack_result(what, 0, EFAULT);
    }
    if (!writable) { /* punching a hole would only undo the copy above */
        apr_snprintf(what, sizeof(what), "madvise MADV_REMOVE on slots mapping %lx", m->start);
        attack_result(what, madvise(base, size, MADV_REMOVE) == 0, errno);
    }
    apr_snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", m->start, m->end);
    apr_snprintf(what, sizeof(what), "open %s O_RDWR", path);
    fd = open(path, O_RDWR | O_CLOEXEC);
    attack_result(what, fd >= 0, errno);
    if (fd >= 0) {
        close(fd);
    }
}

static void attack_mappings(int *found)
{
    static attack_mapping_t maps[ATTACK_MAX_MAPPINGS];
    int i, n = attack_read_maps(maps, ATTACK_MAX_MAPPINGS);

    for (i = 0; i < n; i++) {
        if (maps[i].perms[3] == 's') {
            attack_say("INFO shared mapping %lx-%lx %s %s", maps[i].start, maps[i].end,
                       maps[i].perms, maps[i].path);
        }
        if (attack_is_slots(&maps[i])) {
            (*found)++;
            attack_mapping(&maps[i]);
        }
    }
}

/* write, ftruncate, fallocate on one descriptor, as opened by this child or reopened. */
static void attack_descriptor(int fd, const char *how)
{
    char what[ATTACK_LINE];
    struct stat st;
    off_t size = fstat(fd, &st) == 0 ? st.st_size : 0;

    apr_snprintf(what, sizeof(what), "pwrite 1 byte at 0 on %s", how);
    attack_result(what, pwrite(fd, "x", 1, 0) == 1, errno);
    apr_snprintf(what, sizeof(what), "ftruncate %s to 0", how);
    attack_result(what, ftruncate(fd, 0) == 0, errno);
    apr_snprintf(what, sizeof(what), "ftruncate %s to grow", how);
    attack_result(what, ftruncate(fd, size + ATTACK_GROW_BYTES) == 0, errno);
    apr_snprintf(what, sizeof(what), "fallocate %s", how);
    attack_result(what, fallocate(fd, 0, 0, size + ATTACK_GROW_BYTES) == 0, errno);
    apr_snprintf(what, sizeof(what), "fallocate PUNCH_HOLE %s", how);
    attack_result(what, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, size) == 0,
                  errno);
    apr_snprintf(what, sizeof(what), "mmap PROT_WRITE MAP_SHARED %s", how);
    {
        void *map = mmap(NULL, ATTACK_GROW_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

        attack_result(what, map != MAP_FAILED, errno);
        if (map != MAP_FAILED) {
            munmap(map, ATTACK_GROW_BYTES);
        }
    }
}

/* Shared memory a descriptor may lead to: a memfd, /dev/shm, a deleted file. */
static int attack_is_memory(const char *target)
{
    return strstr(target, "memfd:") != NULL || strncmp(target, "/dev/shm/", 9) == 0 ||
           strncmp(target, "/dev/zero", 9) == 0 || strstr(target, "(deleted)") != NULL;
}

static void attack_descriptors(int *found)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *entry;

    if (dir == NULL) {
        attack_say("INFO cannot list /proc/self/fd: %s", strerror(errno));
        return;
    }
    while ((entry = readdir(dir)) != NULL) {
        char path[PATH_MAX], target[PATH_MAX], how[ATTACK_LINE];
        int fd = atoi(entry->d_name);
        ssize_t len;
        int again;

        if (entry->d_name[0] == '.' || fd == attack_fd || fd == dirfd(dir)) {
            continue;
        }
        apr_snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        len = readlink(path, target, sizeof(target) - 1);
        target[len > 0 ? len : 0] = '\0';
        attack_say("INFO fd %d -> %s", fd, target);
        if (!attack_is_memory(target)) {
            continue;
        }
        (*found)++;
        apr_snprintf(how, sizeof(how), "fd %d (%s)", fd, target);
        attack_descriptor(fd, how);
        again = open(path, O_RDWR | O_CLOEXEC);
        apr_snprintf(how, sizeof(how), "reopen %s O_RDWR", path);
        attack_result(how, again >= 0, errno);
        if (again >= 0) {
            apr_snprintf(how, sizeof(how), "%s reopened O_RDWR (%s)", path, target);
            attack_descriptor(again, how);
            close(again);
        }
    }
    closedir(dir);
}

/* The root parent's descriptors and mappings, through /proc. */
static void attack_parent(void)
{
    char path[PATH_MAX], what[ATTACK_LINE];
    DIR *dir;
    const char *kinds[] = {"fd", "map_files"};
    int i;

    for (i = 0; i < 2; i++) {
        apr_snprintf(path, sizeof(path), "/proc/%ld/%s", (long)getppid(), kinds[i]);
        apr_snprintf(what, sizeof(what), "list the parent's %s", path);
        dir = opendir(path);
        attack_result(what, dir != NULL, errno);
        if (dir != NULL) {
            closedir(dir);
        }
    }
}

static void attack_child_init(apr_pool_t *p, server_rec *s)
{
    attack_conf_t *conf = ap_get_module_config(s->module_config, &autotls_attack_module);
    int mappings = 0, descriptors = 0;

    if (conf->report == NULL) {
        return;
    }
    attack_fd = open(conf->report, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (attack_fd < 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, s, "attack: cannot open %s", conf->report);
        return;
    }
    attack_say("START uid=%ld pid=%ld", (long)getuid(), (long)getpid());
    attack_mappings(&mappings);
    attack_descriptors(&descriptors);
    attack_parent();
    attack_say("DONE uid=%ld pid=%ld slot_mappings=%d memory_descriptors=%d", (long)getuid(),
               (long)getpid(), mappings, descriptors);
    close(attack_fd);
    attack_fd = -1;
}

static void *attack_create_server(apr_pool_t *p, server_rec *s)
{
    return apr_pcalloc(p, sizeof(attack_conf_t));
}

static const char *attack_set_report(cmd_parms *cmd, void *dconf, const char *arg)
{
    attack_conf_t *conf = ap_get_module_config(cmd->server->module_config, &autotls_attack_module);

    conf->report = arg;
    return NULL;
}

static const command_rec attack_cmds[] = {
    AP_INIT_TAKE1("AutoTLSAttackReport", attack_set_report, NULL, RSRC_CONF,
                  "file each child appends its attempts to"),
    {NULL},
};

static void attack_register_hooks(apr_pool_t *p)
{
    /* After every other module's child_init: where a tenant's code runs. */
    ap_hook_child_init(attack_child_init, NULL, NULL, APR_HOOK_REALLY_LAST);
}

AP_DECLARE_MODULE(autotls_attack) = {
    STANDARD20_MODULE_STUFF, NULL, NULL, attack_create_server, NULL, attack_cmds,
    attack_register_hooks,
};
