/* libFuzzer target: what rgs-fetch does with the bytes Relay returns for a
 * document (untrusted): decode (rgs_ydoc), then read it as a folder
 * (rgs_folder_from_ydoc), as a note (contents) and as a canvas in every
 * export format (rgs_canvas_export, which walks the maps into rgs_cval). */
#include <jansson.h>
#include <stdlib.h>

#include "rgs_canvas.h"
#include "rgs_folder.h"
#include "rgs_util.h"
#include "rgs_ydoc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rgs_verbosity = -1;
    rgs_ydoc *d = NULL;
    rgs_ydoc_err e;
    if (rgs_ydoc_decode(data, size, &d, &e) < 0)
        return 0;
    json_t *entries = NULL;
    bool never = false;
    char why[200];
    if (rgs_folder_from_ydoc(d, "11111111-2222-4333-8444-555555555555", "66666666-7777-4888-9999-aaaaaaaaaaaa",
                             &entries, &never, why) == 0) {
        if (!json_is_object(entries))
            abort();
        json_decref(entries);
    }
    rgs_buf b = RGS_BUF_INIT;
    (void)rgs_ydoc_text(d, "contents", &b);
    for (int f = RGS_CANVAS_PYTHON; f <= RGS_CANVAS_OBSIDIAN; f++) {
        rgs_buf_reset(&b);
        int rc = rgs_canvas_export(d, (enum rgs_canvas_format)f, &b, why);
        if (rc == 1 && (b.len == 0 || (b.data[0] != '{')))
            abort();
    }
    rgs_buf_free(&b);
    rgs_ydoc_free(d);
    return 0;
}
