/* The search page: src/serve/search_page.html, embedded in the binary at build time
 * (cmake/embed.cmake), so `ctindex serve` needs no file besides the index. */
#ifndef CTINDEX_SEARCH_PAGE_H
#define CTINDEX_SEARCH_PAGE_H

#include <stddef.h>

extern const char serve_page_html[];
extern const size_t serve_page_html_len;

#endif
