/* ImageFolder listing: root/<class>/<file>.{png,jpg,jpeg}, classes = sorted
 * sub-folder names, files in sorted order (the data set itself is loaded by
 * dataset.c). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data_internal.h"
#include "levi/log.h"

typedef struct name_list {
    char **v;
    int n, cap;
} name_list;

static void names_free(name_list *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static levi_status names_push(name_list *l, const char *s) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        char **nv = realloc(l->v, sizeof(char *) * (size_t)cap);
        if (!nv) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory listing folders");
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n] = strdup(s);
    if (!l->v[l->n]) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory listing folders");
    l->n++;
    return LEVI_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_image_name(const char *s) {
    size_t n = strlen(s);
    return (n > 4 && (!strcasecmp(s + n - 4, ".png") || !strcasecmp(s + n - 4, ".jpg"))) ||
           (n > 5 && !strcasecmp(s + n - 5, ".jpeg"));
}

/* Entries of `dir` (hidden ones skipped), sorted. want_dirs: sub-folders;
 * else regular files, split into image names and a count of the others. */
static levi_status list_dir(const char *dir, int want_dirs, name_list *out, int *others) {
    memset(out, 0, sizeof *out);
    if (others) *others = 0;
    struct stat sb;
    if (stat(dir, &sb) != 0) return levi_error(LEVI_ERR_IO, "cannot open folder '%s': %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) return levi_error(LEVI_ERR_IO, "'%s' is not a folder", dir);
    DIR *d = opendir(dir);
    if (!d) return levi_error(LEVI_ERR_IO, "cannot read folder '%s': %s", dir, strerror(errno));
    struct dirent *e;
    char path[4096];
    levi_status st = LEVI_OK;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) {
            st = levi_error(LEVI_ERR_INVALID_ARG, "path too long under '%s'", dir);
            break;
        }
        if (stat(path, &sb) != 0) continue; /* a dangling link: not an image, not a class */
        if (want_dirs) {
            if (S_ISDIR(sb.st_mode)) st = names_push(out, e->d_name);
        } else if (S_ISREG(sb.st_mode)) {
            if (is_image_name(e->d_name)) st = names_push(out, e->d_name);
            else if (others) (*others)++;
        }
        if (st != LEVI_OK) break;
    }
    closedir(d);
    if (st != LEVI_OK) {
        names_free(out);
        return st;
    }
    if (out->n > 1) qsort(out->v, (size_t)out->n, sizeof(char *), cmp_str);
    return LEVI_OK;
}

levi_status data_list_images(const char *dir, char ***names, int *count, int *others) {
    name_list l;
    *names = NULL;
    *count = 0;
    LEVI_TRY(list_dir(dir, 0, &l, others));
    *names = l.v;
    *count = l.n;
    return LEVI_OK;
}

levi_status levi_folder_classes(const char *root, char ***names, int *count) {
    *names = NULL;
    *count = 0;
    name_list l;
    LEVI_TRY(list_dir(root, 1, &l, NULL));
    if (l.n == 0) {
        names_free(&l);
        return levi_error(LEVI_ERR_FORMAT, "'%s' holds no class folders (expected root/<class>/<file>.png or .jpg)", root);
    }
    *names = l.v;
    *count = l.n;
    return LEVI_OK;
}

void levi_class_names_free(char **names, int count) {
    for (int i = 0; i < count; i++) free(names[i]);
    free(names);
}

levi_status levi_folder_counts(const char *root, char ***names, int *num_classes, int **counts) {
    *counts = NULL;
    LEVI_TRY(levi_folder_classes(root, names, num_classes));
    int *c = calloc((size_t)*num_classes, sizeof(int));
    if (!c) {
        levi_class_names_free(*names, *num_classes);
        *names = NULL;
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    }
    char path[4096];
    for (int i = 0; i < *num_classes; i++) {
        snprintf(path, sizeof path, "%s/%s", root, (*names)[i]);
        name_list files;
        levi_status st = list_dir(path, 0, &files, NULL);
        if (st != LEVI_OK) {
            free(c);
            levi_class_names_free(*names, *num_classes);
            *names = NULL;
            return st;
        }
        c[i] = files.n;
        names_free(&files);
    }
    *counts = c;
    return LEVI_OK;
}

