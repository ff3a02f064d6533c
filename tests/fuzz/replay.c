/* replay.c — runs a fuzz target, built without libFuzzer, on every file of the folders given
 * (the committed corpus and regressions), so that `make check` (and its sanitizer build)
 * replays them. A crash or a sanitizer report ends the process: the run fails.
 * usage: fuzz-replay-TARGET NAME DIR... ; prints "NAME: N passed, 0 failed". */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    unsigned char *buf = NULL;
    size_t size = 0, cap = 0, got;
    unsigned char chunk[65536];
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (size + got > cap) {
            cap = (size + got) * 2;
            unsigned char *p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(f);
                return 0;
            }
            buf = p;
        }
        memcpy(buf + size, chunk, got);
        size += got;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf ? buf : (const unsigned char *)"", size);
    free(buf);
    return 1;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays the files of one folder in sorted order (not recursive). */
static int replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return replay_file(dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **p = realloc(names, cap * sizeof *names);
            if (!p)
                break;
            names = p;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, compare_names);
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        count += replay_file(path);
        free(names[i]);
    }
    free(names);
    return count;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s NAME DIR...\n", argv[0]);
        return 2;
    }
    int count = 0;
    for (int i = 2; i < argc; i++)
        count += replay_dir(argv[i]);
    printf("%s: %d passed, 0 failed\n", argv[1], count);
    return count > 0 ? 0 : 1;
}
