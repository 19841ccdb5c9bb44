/* SPDX-License-Identifier: MIT */
/*
 * cmd_show.c - `dmacoh show REGION`: the picture of one shared region, from
 * dmacoh_shared_inspect. In the terminal, a map of cells (each a fixed number of granules),
 * each drawn as what most of its granules are: an owner's letter (capital: a live process;
 * small: a dead one's quarantined blocks), '#' occupied, '.' free, and the digits 1-3 over
 * the three largest free spans; a legend names every owner. --svg FILE writes the same as a
 * scalable picture, exact to the granule: one <g class="span"> per span, carrying its offset,
 * size, kind and owner as data-* attributes (the tests compare them with --json), with a
 * tooltip, and a legend. --json gives every span.
 */
#include "tool.h"

#include <dmacoh/errno.h>
#include <dmacoh/shared.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char help[] =
    "usage: dmacoh show REGION [--json] [--svg FILE] [--width COLS] [--rows ROWS]\n"
    "                          [--color auto|always|never]\n"
    "\n"
    "Draws the shared region REGION: one cell per span of granules, an owner's letter\n"
    "(capital: live process; small: quarantined blocks of a dead one), '#' occupied,\n"
    "'.' free, and 1-3 over the three largest free spans; a legend names the owners.\n"
    "\n"
    "  --json          every span and owner as JSON (schema in dmacoh(1))\n"
    "  --svg FILE      also write the picture as SVG to FILE ('-': standard output)\n"
    "  --width COLS    cells per row (default 64, 8-512)\n"
    "  --rows ROWS     at most this many rows (default 16, 1-4096)\n"
    "  --color WHEN    colour the cells: auto (a terminal), always, never\n";

#define MAX_OWNERS TOOL_MAX_OWNERS
#define TOP        3

struct pic {
    struct tool_look l;
    size_t top[TOP]; /* indexes of the largest free spans, in order; SIZE_MAX: none */
};

/* The position of owner `index` in the legend (its letter), or -1. */
static int letter_of(const struct pic *p, unsigned index)
{
    for (unsigned k = 0; k < p->l.nowners; k++)
        if (p->l.owners[k].index == index)
            return (int)k;
    return -1;
}

static char glyph_of_owner(const struct pic *p, unsigned index, bool quarantined)
{
    int k = letter_of(p, index);
    char c = k < 0 ? '?' : k < 26 ? (char)('A' + k) : '*';

    return quarantined && c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static void find_top(struct pic *p)
{
    for (int t = 0; t < TOP; t++)
        p->top[t] = SIZE_MAX;
    for (size_t i = 0; i < p->l.nspans; i++) {
        if (p->l.spans[i].kind != DMACOH_SPAN_FREE)
            continue;
        for (int t = 0; t < TOP; t++) {
            if (p->top[t] == SIZE_MAX || p->l.spans[i].size > p->l.spans[p->top[t]].size) {
                memmove(&p->top[t + 1], &p->top[t], (size_t)(TOP - 1 - t) * sizeof(p->top[0]));
                p->top[t] = i;
                break;
            }
        }
    }
}

static int top_rank(const struct pic *p, size_t span)
{
    for (int t = 0; t < TOP; t++)
        if (p->top[t] == span)
            return t + 1;
    return 0;
}

static const char *kind_name(int kind)
{
    return kind == DMACOH_SPAN_FREE       ? "free"
           : kind == DMACOH_SPAN_OCCUPIED ? "occupied"
                                          : "allocated";
}

/* ---- terminal ---- */

static const int palette[] = {42, 44, 45, 46, 43, 102, 104, 105, 106, 103};

static void print_map(const struct pic *p, unsigned cols, unsigned maxrows, bool color)
{
    uint64_t g = p->l.info.granule, n = p->l.info.size / g, cells, per;
    uint64_t tally_max = (uint64_t)cols * maxrows;
    size_t si = 0;
    char a[32], b[32];

    cells = n < tally_max ? n : tally_max;
    per = (n + cells - 1) / cells;
    cells = (n + per - 1) / per;
    printf("each cell: %" PRIu64 " granule%s (%s)\n\n", per, per == 1 ? "" : "s",
           tool_size(per * g, a));
    for (uint64_t c = 0; c < cells; c++) {
        uint64_t lo = c * per, hi = lo + per < n ? lo + per : n;
        uint64_t freeg = 0, occ = 0, alloc = 0, best = 0;
        unsigned best_owner = 0;
        bool best_q = false, all_top = true;
        int rank = 0;
        uint64_t own[MAX_OWNERS + 1];
        bool ownq[MAX_OWNERS + 1];
        char ch, hexbuf[24];

        if (c % cols == 0)
            printf("%12s ", tool_hex(lo * g, hexbuf));
        memset(own, 0, sizeof(own));
        memset(ownq, 0, sizeof(ownq));
        while (si < p->l.nspans && (p->l.spans[si].offset + p->l.spans[si].size) / g <= lo)
            si++;
        for (size_t k = si; k < p->l.nspans && p->l.spans[k].offset / g < hi; k++) {
            const struct dmacoh_shared_span *s = &p->l.spans[k];
            uint64_t s0 = s->offset / g, s1 = (s->offset + s->size) / g;
            uint64_t ov = (s1 < hi ? s1 : hi) - (s0 > lo ? s0 : lo);

            if (s->kind == DMACOH_SPAN_FREE) {
                freeg += ov;
                if (!top_rank(p, k) || (rank && top_rank(p, k) != rank) || ov != hi - lo)
                    all_top = false;
                rank = top_rank(p, k);
            } else if (s->kind == DMACOH_SPAN_OCCUPIED) {
                occ += ov;
            } else {
                unsigned o = s->owner <= MAX_OWNERS ? s->owner : 0;

                alloc += ov;
                own[o] += ov;
                ownq[o] = s->quarantined;
            }
        }
        for (unsigned o = 0; o <= MAX_OWNERS; o++)
            if (own[o] > best) {
                best = own[o];
                best_owner = o;
                best_q = ownq[o];
            }
        if (alloc && alloc >= freeg && alloc >= occ) {
            int k = letter_of(p, best_owner);

            ch = glyph_of_owner(p, best_owner, best_q);
            if (color)
                printf("\033[%d;%dm%c\033[0m", best_q ? 31 : 30,
                       palette[(k < 0 ? 0 : k) % (int)(sizeof(palette) / sizeof(palette[0]))], ch);
            else
                putchar(ch);
        } else if (occ && occ >= freeg) {
            printf(color ? "\033[47;30m#\033[0m" : "#");
        } else {
            ch = all_top && rank ? (char)('0' + rank) : '.';
            if (color && ch != '.')
                printf("\033[1m%c\033[0m", ch);
            else
                putchar(ch);
        }
        if (c % cols == cols - 1 || c + 1 == cells)
            putchar('\n');
    }
    printf("\n");
    for (unsigned k = 0; k < p->l.nowners; k++) {
        const struct dmacoh_shared_owner *o = &p->l.owners[k];
        char up = k < 26 ? (char)('A' + k) : '*', low = k < 26 ? (char)('a' + k) : '*';

        printf("  %c/%c  owner %u: pid %" PRIu64 " (%s) %s, %" PRIu64 " block%s, %s\n", up, low,
               o->index, o->pid, p->l.comm[k], o->state == DMACOH_OWNER_LIVE ? "live" : "dead",
               o->blocks, o->blocks == 1 ? "" : "s", tool_size(o->bytes, a));
    }
    printf("  #    occupied (%s)\n  .    free (%s in %" PRIu64 " span%s)\n",
           tool_size(p->l.info.stats.occupied_bytes, a), tool_size(p->l.info.stats.free_bytes, b),
           p->l.info.free_spans, p->l.info.free_spans == 1 ? "" : "s");
    for (int t = 0; t < TOP && p->top[t] != SIZE_MAX; t++) {
        const struct dmacoh_shared_span *s = &p->l.spans[p->top[t]];

        printf("  %d    free span at 0x%" PRIx64 ", %s\n", t + 1, s->offset, tool_size(s->size, a));
    }
}

static void print_head(const char *name, const struct pic *p)
{
    const struct dmacoh_shared_info *in = &p->l.info;
    char a[32], b[32], c[32], d[32];

    printf("region %s: bus 0x%" PRIx64 ", device 0x%" PRIx64 ", %s, granule %s\n", name, in->bus,
           in->device_addr, tool_size(in->size, a), tool_size(in->granule, b));
    printf("used %s, free %s, largest free span %s, quarantined %" PRIu64 " block%s (%s), "
           "%" PRIu64 " fallback%s\n",
           tool_size(in->stats.live_bytes + in->stats.quarantined_bytes, a),
           tool_size(in->stats.free_bytes, b), tool_size(in->largest_free, c),
           in->stats.quarantined_blocks, in->stats.quarantined_blocks == 1 ? "" : "s",
           tool_size(in->stats.quarantined_bytes, d), in->fallbacks, in->fallbacks == 1 ? "" : "s");
}

/* ---- JSON ---- */

static void print_json(const char *name, const struct pic *p)
{
    const struct dmacoh_shared_info *in = &p->l.info;
    struct json j;
    char hex[24];

    json_init(&j, stdout);
    json_begin(&j, NULL, '{');
    json_u64(&j, "schema", 1);
    json_str(&j, "name", name);
    json_str(&j, "bus", tool_hex(in->bus, hex));
    json_str(&j, "device_addr", tool_hex(in->device_addr, hex));
    json_u64(&j, "size", in->size);
    json_u64(&j, "granule", in->granule);
    json_bool(&j, "consistent", in->consistent);
    json_u64(&j, "used", in->stats.live_bytes + in->stats.quarantined_bytes);
    json_u64(&j, "free", in->stats.free_bytes);
    json_u64(&j, "largest_free", in->largest_free);
    json_u64(&j, "free_spans", in->free_spans);
    json_u64(&j, "quarantined_blocks", in->stats.quarantined_blocks);
    json_u64(&j, "fallbacks", in->fallbacks);
    json_begin(&j, "owners", '[');
    for (unsigned k = 0; k < p->l.nowners; k++) {
        const struct dmacoh_shared_owner *o = &p->l.owners[k];
        char l[2] = {k < 26 ? (char)('A' + k) : '*', '\0'};

        json_begin(&j, NULL, '{');
        json_u64(&j, "index", o->index);
        json_str(&j, "letter", l);
        json_u64(&j, "pid", o->pid);
        json_str(&j, "comm", p->l.comm[k]);
        json_str(&j, "state", o->state == DMACOH_OWNER_LIVE ? "live" : "dead");
        json_u64(&j, "blocks", o->blocks);
        json_u64(&j, "bytes", o->bytes);
        json_end(&j, '}');
    }
    json_end(&j, ']');
    json_begin(&j, "largest_free_spans", '[');
    for (int t = 0; t < TOP && p->top[t] != SIZE_MAX; t++) {
        json_begin(&j, NULL, '{');
        json_str(&j, "offset", tool_hex(p->l.spans[p->top[t]].offset, hex));
        json_u64(&j, "size", p->l.spans[p->top[t]].size);
        json_end(&j, '}');
    }
    json_end(&j, ']');
    json_begin(&j, "spans", '[');
    for (size_t i = 0; i < p->l.nspans; i++) {
        const struct dmacoh_shared_span *s = &p->l.spans[i];

        json_begin(&j, NULL, '{');
        json_str(&j, "offset", tool_hex(s->offset, hex));
        json_u64(&j, "size", s->size);
        json_str(&j, "kind", kind_name(s->kind));
        if (s->kind == DMACOH_SPAN_ALLOCATED && s->owner)
            json_u64(&j, "owner", s->owner);
        else
            json_null(&j, "owner");
        json_bool(&j, "quarantined", s->quarantined);
        json_end(&j, '}');
    }
    json_end(&j, ']');
    json_end(&j, '}');
}

/* ---- SVG ---- */

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '"')
            fputs("&quot;", f);
        else if ((unsigned char)*s >= 0x20)
            fputc(*s, f);
    }
}

static void owner_color(unsigned k, char *buf)
{
    snprintf(buf, 32, "hsl(%u,65%%,55%%)", (k * 137u + 120u) % 360u);
}

static int write_svg(FILE *f, const char *name, const struct pic *p, unsigned cols,
                     unsigned maxrows)
{
    const double W = 1024.0, RH = 18.0, GAP = 4.0, X0 = 96.0, Y0 = 40.0;
    uint64_t g = p->l.info.granule, n = p->l.info.size / g, cells, per, rowg, rows;
    uint64_t tally_max = (uint64_t)cols * maxrows;
    double height;
    char a[32], col[32];

    cells = n < tally_max ? n : tally_max;
    per = (n + cells - 1) / cells;
    rowg = per * cols;
    rows = (n + rowg - 1) / rowg;
    height = Y0 + (double)rows * (RH + GAP) + 24.0 + 18.0 * (double)(p->l.nowners + 2);
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"monospace\" font-size=\"12\">\n",
            W + X0 + 8, height, W + X0 + 8, height);
    fputs("<title>dmacoh shared region ", f);
    xml_text(f, name);
    fputs("</title>\n<text x=\"8\" y=\"16\">region ", f);
    xml_text(f, name);
    fprintf(f, ": bus 0x%" PRIx64 ", %s, granule %s; %" PRIu64 " granules per row</text>\n",
            p->l.info.bus, tool_size(p->l.info.size, a), tool_size(g, col), rowg);
    for (uint64_t row = 0; row < rows; row++) /* each row's first byte, on its left */
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">0x%" PRIx64 "</text>\n", X0 - 6,
                Y0 + (double)row * (RH + GAP) + 13, row * rowg * g);
    for (size_t i = 0; i < p->l.nspans; i++) {
        const struct dmacoh_shared_span *s = &p->l.spans[i];
        uint64_t s0 = s->offset / g, s1 = (s->offset + s->size) / g;
        int rank = top_rank(p, i), k = letter_of(p, s->owner);
        char tip[160];

        if (s->kind == DMACOH_SPAN_ALLOCATED)
            owner_color(k < 0 ? 0 : (unsigned)k, col);
        else
            snprintf(col, sizeof(col), "%s",
                     s->kind == DMACOH_SPAN_FREE ? (rank ? "#d8f0d8" : "#f2f2f2") : "#7f7f7f");
        fprintf(f,
                "<g class=\"span\" data-offset=\"0x%" PRIx64 "\" data-size=\"%" PRIu64
                "\" data-kind=\"%s\" data-owner=\"%u\" data-quarantined=\"%s\">",
                s->offset, s->size, kind_name(s->kind),
                s->kind == DMACOH_SPAN_ALLOCATED ? s->owner : 0, s->quarantined ? "true" : "false");
        snprintf(tip, sizeof(tip), "%s at 0x%" PRIx64 ", %s", kind_name(s->kind), s->offset,
                 tool_size(s->size, a));
        fputs("<title>", f);
        xml_text(f, tip);
        if (s->kind == DMACOH_SPAN_ALLOCATED && k >= 0)
            fprintf(f, ", owner %u (pid %" PRIu64 ")%s", s->owner, p->l.owners[k].pid,
                    s->quarantined ? ", quarantined" : "");
        if (rank)
            fprintf(f, ", free span %d by size", rank);
        fputs("</title>", f);
        for (uint64_t at = s0; at < s1;) {
            uint64_t row = at / rowg, end = (row + 1) * rowg < s1 ? (row + 1) * rowg : s1;
            double x = X0 + W * (double)(at - row * rowg) / (double)rowg;
            double w = W * (double)(end - at) / (double)rowg;

            fprintf(f,
                    "<rect x=\"%.3f\" y=\"%.1f\" width=\"%.3f\" height=\"%.1f\" fill=\"%s\" "
                    "stroke=\"%s\" stroke-width=\"%s\"/>",
                    x, Y0 + (double)row * (RH + GAP), w, RH, col,
                    s->quarantined ? "#d00000" : "#ffffff", s->quarantined ? "1.5" : "0.5");
            if (rank && at == s0) /* the rank of a largest free span, at its start */
                fprintf(f, "<text x=\"%.3f\" y=\"%.1f\" font-weight=\"bold\">%d</text>", x + 3,
                        Y0 + (double)row * (RH + GAP) + 13, rank);
            at = end;
        }
        fputs("</g>\n", f);
    }
    {
        double y = Y0 + (double)rows * (RH + GAP) + 20.0;

        for (unsigned k = 0; k < p->l.nowners; k++, y += 18.0) {
            const struct dmacoh_shared_owner *o = &p->l.owners[k];
            char line[160];

            owner_color(k, col);
            fprintf(f, "<rect x=\"8\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>", y - 10,
                    col);
            snprintf(line, sizeof(line),
                     "owner %u: pid %" PRIu64 " (%s) %s, %" PRIu64 " blocks, %s", o->index, o->pid,
                     p->l.comm[k],
                     o->state == DMACOH_OWNER_LIVE ? "live" : "dead (quarantined: red outline)",
                     o->blocks, tool_size(o->bytes, a));
            fprintf(f, "<text x=\"26\" y=\"%.1f\">", y);
            xml_text(f, line);
            fputs("</text>\n", f);
        }
        fprintf(f,
                "<rect x=\"8\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"#7f7f7f\"/><text "
                "x=\"26\" y=\"%.1f\">occupied</text>\n",
                y - 10, y);
        y += 18.0;
        fprintf(f,
                "<rect x=\"8\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"#f2f2f2\" "
                "stroke=\"#999\"/><text x=\"26\" y=\"%.1f\">free (the %d largest spans in "
                "green, numbered by size)</text>\n",
                y - 10, y, TOP);
    }
    fputs("</svg>\n", f);
    return ferror(f) ? -1 : 0;
}

static long number(const char *s, long lo, long hi)
{
    char *end;
    long v = strtol(s, &end, 10);

    return (*s && !*end && v >= lo && v <= hi) ? v : -1;
}

int cmd_show(int argc, char **argv)
{
    const char *json = NULL, *svg = NULL, *width = "64", *rowsopt = "16", *color = "auto";
    struct tool_opt opts[] = {{"json", false, &json},  {"svg", true, &svg},
                              {"width", true, &width}, {"rows", true, &rowsopt},
                              {"color", true, &color}, {NULL, false, NULL}};
    struct dmacoh_platform *pl;
    struct tool_region reg;
    struct pic *p;
    long cols, rows;
    bool paint;
    int i = tool_opts(argc, argv, opts, help), r;
    char why[512];

    if (i < 0)
        return i == -2 ? TOOL_OK : TOOL_USAGE;
    if (i != argc - 1)
        return tool_err(TOOL_USAGE, argv[0], "needs one REGION (try 'dmacoh show --help')");
    cols = number(width, 8, 512);
    rows = number(rowsopt, 1, 4096);
    if (cols < 0 || rows < 0)
        return tool_err(TOOL_USAGE, argv[0], "--width takes 8 to 512, --rows 1 to 4096");
    if (strcmp(color, "auto") && strcmp(color, "always") && strcmp(color, "never"))
        return tool_err(TOOL_USAGE, argv[0], "--color takes auto, always or never");
    if (json && svg && !strcmp(svg, "-"))
        return tool_err(TOOL_USAGE, argv[0],
                        "--json and --svg - would both go to standard "
                        "output: write the SVG to a file");
    paint = !strcmp(color, "always") || (!strcmp(color, "auto") && isatty(STDOUT_FILENO));
    tool_log_capture();
    pl = tool_platform(argv[0]);
    if (!pl)
        return TOOL_FAIL;
    r = tool_find_region(pl, argv[i], &reg, why);
    if (r)
        return tool_err(r, argv[0], "%s", why);
    p = calloc(1, sizeof(*p));
    if (!p)
        return tool_err(TOOL_FAIL, argv[0], "out of memory");
    if (tool_look(pl, &reg, TOOL_LOOK_SPANS, &p->l)) {
        r = tool_err(tool_look_code(&p->l), argv[0], "%s", p->l.why);
        tool_look_done(&p->l);
        free(p);
        return r;
    }
    find_top(p);
    if (json) {
        print_json(argv[i], p);
    } else if (!svg || strcmp(svg, "-") != 0) {
        print_head(argv[i], p);
        print_map(p, (unsigned)cols, (unsigned)rows, paint);
    }
    r = TOOL_OK;
    if (svg) {
        FILE *f = strcmp(svg, "-") ? fopen(svg, "we") : stdout;
        int e = f ? write_svg(f, argv[i], p, (unsigned)cols, (unsigned)rows) : -1;

        if (f && f != stdout && fclose(f) != 0)
            e = -1;
        if (e)
            r = tool_err(TOOL_FAIL, argv[0], "cannot write %s: %s", svg, strerror(errno));
    }
    tool_look_done(&p->l);
    free(p);
    return tool_flush(argv[0], r);
}
