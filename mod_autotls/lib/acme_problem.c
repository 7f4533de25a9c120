/* SPDX-License-Identifier: Apache-2.0 */
/*
 * acme_problem.c: problem documents (RFC 7807, RFC 8555 §6.7) into structs and one log line.
 *
 * The one idea: a problem's text is written by the CA and ends up in the operator's log, so it
 * is checked for shape when parsed and stripped of control characters when printed.
 */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "at_acme.h"
#include "at_core.h"

#define PROBLEM_TYPE_DEFAULT "about:blank" /* RFC 7807 §4.2: a problem without "type" */
#define PROBLEM_SUBPROBLEMS_MAX 100        /* more are counted, not kept */
#define PROBLEM_TEXT_FIELD_MAX 512         /* longest type, detail or identifier printed */

/* An optional string member; AT_EPROTO when present and not a NUL-free string. */
static apr_status_t problem_string(const char **out, apr_pool_t *p, const json_t *obj,
                                   const char *key, const char *fallback)
{
    const json_t *value = json_object_get(obj, key);

    if (value == NULL || json_is_null(value)) {
        *out = fallback;
        return APR_SUCCESS;
    }
    if (!json_is_string(value) || strlen(json_string_value(value)) != json_string_length(value)) {
        return AT_EPROTO;
    }
    *out = apr_pstrdup(p, json_string_value(value));
    return APR_SUCCESS;
}

static apr_status_t problem_identifier(const char **out, apr_pool_t *p, const json_t *obj)
{
    const json_t *identifier = json_object_get(obj, "identifier");

    *out = NULL;
    if (identifier == NULL || json_is_null(identifier)) {
        return APR_SUCCESS;
    }
    if (!json_is_object(identifier)) {
        return AT_EPROTO;
    }
    return problem_string(out, p, identifier, "value", NULL);
}

static apr_status_t problem_parse_one(at_acme_problem_t **problem, apr_pool_t *p,
                                      const json_t *json, int http_status, int nested)
{
    at_acme_problem_t *pb;
    const json_t *subs, *item, *status;
    at_acme_problem_t *sub;
    size_t i;
    apr_status_t rv;

    if (!json_is_object(json)) {
        return AT_EPROTO;
    }
    pb = apr_pcalloc(p, sizeof(*pb));
    pb->status = http_status;
    status = json_object_get(json, "status");
    if (status != NULL && json_is_integer(status) && http_status == 0) {
        pb->status = (int)json_integer_value(status);
    }
    if ((rv = problem_string(&pb->type, p, json, "type", PROBLEM_TYPE_DEFAULT)) ||
        (rv = problem_string(&pb->detail, p, json, "detail", "")) ||
        (rv = problem_identifier(&pb->identifier, p, json))) {
        return rv;
    }
    pb->subproblems = apr_array_make(p, 0, sizeof(at_acme_problem_t *));
    subs = json_object_get(json, "subproblems");
    if (subs != NULL && !json_is_null(subs)) {
        /* RFC 8555 §6.7.1: subproblems do not nest */
        if (nested || !json_is_array(subs)) {
            return AT_EPROTO;
        }
        json_array_foreach(subs, i, item)
        {
            if (i >= PROBLEM_SUBPROBLEMS_MAX) {
                break;
            }
            if ((rv = problem_parse_one(&sub, p, item, http_status, 1)) != APR_SUCCESS) {
                return rv;
            }
            APR_ARRAY_PUSH(pb->subproblems, at_acme_problem_t *) = sub;
        }
    }
    *problem = pb;
    return APR_SUCCESS;
}

apr_status_t at_acme_problem_parse(at_acme_problem_t **problem, apr_pool_t *p, const json_t *json,
                                   int http_status)
{
    return problem_parse_one(problem, p, json, http_status, 0);
}

/* The CA's text, safe for one log line: control characters become '?', long text is cut. */
static const char *problem_clean(apr_pool_t *p, const char *text)
{
    apr_size_t len = strlen(text);
    char *out, *c;

    if (len > PROBLEM_TEXT_FIELD_MAX) {
        len = PROBLEM_TEXT_FIELD_MAX;
    }
    out = apr_pstrmemdup(p, text, len);
    for (c = out; *c != '\0'; c++) {
        if (apr_iscntrl(*c)) {
            *c = '?';
        }
    }
    return out;
}

static const char *problem_one_text(apr_pool_t *p, const at_acme_problem_t *problem)
{
    const char *type = problem_clean(p, problem->type);

    if (problem->detail == NULL || problem->detail[0] == '\0') {
        return type;
    }
    return apr_pstrcat(p, type, ": ", problem_clean(p, problem->detail), NULL);
}

const char *at_acme_problem_text(apr_pool_t *p, const at_acme_problem_t *problem)
{
    const at_acme_problem_t *sub;
    const char *text;
    int i;

    if (problem == NULL) {
        return "(no problem document)";
    }
    text = problem_one_text(p, problem);
    if (problem->subproblems == NULL || problem->subproblems->nelts == 0) {
        return text;
    }
    text = apr_pstrcat(p, text, " (", NULL);
    for (i = 0; i < problem->subproblems->nelts; i++) {
        sub = APR_ARRAY_IDX(problem->subproblems, i, const at_acme_problem_t *);
        text = apr_pstrcat(p, text, i > 0 ? "; " : "",
                           sub->identifier != NULL ? problem_clean(p, sub->identifier) : "?", ": ",
                           problem_one_text(p, sub), NULL);
    }
    return apr_pstrcat(p, text, ")", NULL);
}

int at_acme_problem_is(const at_acme_problem_t *problem, const char *short_type)
{
    apr_size_t prefix = sizeof(AT_ACME_PROBLEM_PREFIX) - 1;

    return problem != NULL && problem->type != NULL && short_type != NULL &&
           strncmp(problem->type, AT_ACME_PROBLEM_PREFIX, prefix) == 0 &&
           strcmp(problem->type + prefix, short_type) == 0;
}
