/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "config.h"

/*
 * SAM templates (template.c): `lemu serve --template template.yaml` reads the
 * AWS::Serverless::Function resources and Globals.Function of a SAM template and adds one
 * function each to a Config, through the same loader and checks as a JSON config.
 */

/*
 * tpl_load() - adds the template's functions to @c. Properties lemu does not use are named
 * once each on @warn (NULL: not at all); so are events beyond a function's one HTTP route.
 * Return: 0, or -EINVAL / -errno with a message in @err ("template.yaml:12:3: ...").
 */
int tpl_load(Config *c, const char *path, FILE *warn, char *err, size_t errn);
