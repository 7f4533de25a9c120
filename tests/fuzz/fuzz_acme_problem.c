/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_acme_problem.c: problem documents (RFC 7807, RFC 8555 §6.7) and the line we log for them.
 *
 * Input: the JSON body; the HTTP status comes from its length (0 for every third length: a
 * problem embedded in an object, whose own "status" member counts then). A parsed problem always
 * has a type and a detail, and its one-line text, which goes to the operator's log, holds no
 * control character whatever the CA wrote (subproblems and their identifiers included).
 */
#include "at_acme.h"
#include "fuzz_acme.h"

#define FUZZ_STATUS_BASE 400
#define FUZZ_STATUS_SPAN 200
#define FUZZ_STATUS_NONE_EVERY 3

static int fuzz_has_control(const char *text)
{
    const unsigned char *c;

    for (c = (const unsigned char *)text; *c != '\0'; c++) {
        if (*c < 0x20 || *c == 0x7f) {
            return 1;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    int status =
        size % FUZZ_STATUS_NONE_EVERY == 0 ? 0 : FUZZ_STATUS_BASE + (int)(size % FUZZ_STATUS_SPAN);
    at_acme_problem_t *problem = NULL;
    const char *text;
    json_t *json;
    int i;

    json = json_loadb((const char *)data, size, FUZZ_ACME_JSON_FLAGS, NULL);
    if (json != NULL && at_acme_problem_parse(&problem, p, json, status) == APR_SUCCESS) {
        FUZZ_REQUIRE(problem != NULL && problem->type != NULL && problem->detail != NULL);
        FUZZ_REQUIRE(status == 0 || problem->status == status);
        text = at_acme_problem_text(p, problem);
        FUZZ_REQUIRE(text != NULL && !fuzz_has_control(text));
        (void)at_acme_problem_is(problem, "badNonce");
        (void)at_acme_problem_is(problem, "");
        for (i = 0; problem->subproblems != NULL && i < problem->subproblems->nelts; i++) {
            const at_acme_problem_t *sub =
                APR_ARRAY_IDX(problem->subproblems, i, at_acme_problem_t *);

            FUZZ_REQUIRE(sub != NULL && sub->type != NULL && sub->detail != NULL);
        }
        at_log(AT_LOG_ERR, AT_EPROBLEM, "fuzz: %s", text);
    }
    json_decref(json);
    apr_pool_destroy(p);
    return 0;
}
