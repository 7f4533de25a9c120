/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_store_names.c: the store's item names and paths, which every caller's input ends up in.
 *
 * Input: "name" NUL "item" NUL "CA directory URL", the first byte of name choosing the group.
 * The store is the one place that turns names into files, so whatever it is given: a component
 * it accepts is one plain path component, a path it builds stays inside its group's directory,
 * and the name it derives from a CA's URL (accounts/<ca-name>/) is itself a valid component.
 */
#include "fuzz_store_tmp.h"

#define FUZZ_PARTS 3

static int fuzz_plain_component(const char *c)
{
    if (*c == '\0' || *c == '.' || strlen(c) > 255) {
        return 0;
    }
    return strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-:") ==
           strlen(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    const char *root, *path, *ca_name, *name, *expected;
    char *parts[FUZZ_PARTS];
    size_t lens[FUZZ_PARTS];
    at_store_group_e group;
    at_store_t *store = fuzz_store(&root);

    p = fuzz_pool();
    fuzz_split(p, data, size, FUZZ_PARTS, parts, lens);
    group = (at_store_group_e)(size > 0 ? data[0] % (AT_STORE_GROUP_COUNT + 1) : 0);
    name = parts[0][0] != '\0' ? parts[0] + 1 : parts[0];
    FUZZ_REQUIRE(at_store_component_valid(parts[1]) == fuzz_plain_component(parts[1]));
    if (at_store_path(store, group, name, parts[1], &path, p) == APR_SUCCESS) {
        FUZZ_REQUIRE(group < AT_STORE_GROUP_COUNT && at_store_component_valid(parts[1]));
        /* only the local groups have paths (at_store.h) */
        FUZZ_REQUIRE(group == AT_STORE_LIVE || group == AT_STORE_ARCHIVE);
        FUZZ_REQUIRE(name[0] == '\0' || at_store_component_valid(name));
        expected = name[0] == '\0'
                       ? apr_pstrcat(p, root, "/", at_store_group_name(group), "/", parts[1], NULL)
                       : apr_pstrcat(p, root, "/", at_store_group_name(group), "/", name, "/",
                                     parts[1], NULL);
        FUZZ_REQUIRE(strcmp(path, expected) == 0);
    }
    ca_name = at_store_ca_name(p, parts[2]);
    FUZZ_REQUIRE(ca_name != NULL && at_store_component_valid(ca_name));
    apr_pool_destroy(p);
    return 0;
}
