/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sanitizer_log.c: in a sanitizer build (configure --enable-sanitizers), makes UBSan honour the
 * log_path of UBSAN_OPTIONS, so that its reports from httpd's children land in files like ASan's.
 *
 * The one idea: GCC ships ASan and UBSan as two runtimes (libasan, libubsan), each with its own
 * copy of the sanitizer common code, and both export __sanitizer_set_report_path. libasan comes
 * first in every process (it must), so UBSan's own call to that function at its start lands in
 * libasan's copy and UBSan keeps writing to stderr whatever UBSAN_OPTIONS says: in an httpd
 * child, the middle of an error log no test reads. A constructor here, run when the library is
 * loaded (the CLI, a unit test, mod_autotls.so inside httpd), calls libubsan's own copy, found
 * with dlsym on libubsan's handle. Compiled to nothing in other builds.
 */
#ifdef AT_SANITIZERS

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#define SANITIZER_LOG_UBSAN_SO "libubsan.so.1"
#define SANITIZER_LOG_OPTIONS_ENV "UBSAN_OPTIONS"
#define SANITIZER_LOG_PATH_KEY "log_path="
#define SANITIZER_LOG_SEPARATORS ": ,\t\n" /* between the sanitizer options' key=value pairs */
#define SANITIZER_LOG_PATH_MAX 4096

typedef void (*sanitizer_log_set_path_fn)(const char *path);

/* The value of log_path= in options (unquoted values only) copied into buf, or NULL. */
static const char *sanitizer_log_path(const char *options, char *buf, size_t size)
{
    const char *at = options;
    size_t len;

    while (at != NULL && *at != '\0') {
        at += strspn(at, SANITIZER_LOG_SEPARATORS);
        len = strcspn(at, SANITIZER_LOG_SEPARATORS);
        if (strncmp(at, SANITIZER_LOG_PATH_KEY, strlen(SANITIZER_LOG_PATH_KEY)) == 0) {
            at += strlen(SANITIZER_LOG_PATH_KEY);
            len -= strlen(SANITIZER_LOG_PATH_KEY);
            if (len == 0 || len >= size) {
                return NULL;
            }
            memcpy(buf, at, len);
            buf[len] = '\0';
            return buf;
        }
        at += len;
    }
    return NULL;
}

/* Global, so that configure's -Wl,--undefined=at_sanitizer_log_init pulls this object out of
 * the static library into programs that call nothing in it (the CLI, the unit tests). */
void at_sanitizer_log_init(void) __attribute__((constructor));

void at_sanitizer_log_init(void)
{
    char buf[SANITIZER_LOG_PATH_MAX];
    const char *options = getenv(SANITIZER_LOG_OPTIONS_ENV), *path;
    sanitizer_log_set_path_fn set_path;
    void *ubsan;

    if (options == NULL || (path = sanitizer_log_path(options, buf, sizeof(buf))) == NULL) {
        return;
    }
    /* Already loaded (a dependency of this library): RTLD_NOLOAD only finds it. */
    ubsan = dlopen(SANITIZER_LOG_UBSAN_SO, RTLD_LAZY | RTLD_NOLOAD);
    if (ubsan == NULL) {
        return; /* a runtime with UBSan inside ASan (clang): it honours log_path itself */
    }
    /* dlsym on the handle searches libubsan first: its own copy, not the interposed one. */
    *(void **)&set_path = dlsym(ubsan, "__sanitizer_set_report_path");
    if (set_path != NULL) {
        set_path(path);
    }
    dlclose(ubsan);
}

#else

typedef int at_sanitizer_log_unused_t; /* ISO C wants a translation unit to declare something */

#endif
