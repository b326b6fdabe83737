/* What every `dockhand` subcommand shares: output in text or JSON, failures as exit
 * codes, and reading a secret from stdin. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "dockhand/config.h"

struct store_err;

/* Whether the output setting asks for JSON (--output json). */
bool cli_json_out(const struct config *cfg);

/* Prints o as indented JSON and a newline. Returns 0, or 1 after printing why. */
int cli_print_json(json_t *o);

/* Prints a refused or failed operation's message; returns the exit code 1. */
int cli_fail(const struct store_err *err);

/* Reads a secret or password from stdin into buf (cap ≥ the longest accepted + 2): one
 * trailing newline (and CR) dropped, NUL-terminated. Returns 0, or 1 after printing why
 * (unreadable, longer than cap - 2). */
int cli_read_secret(const char *what, char *buf, size_t cap, size_t *len);
