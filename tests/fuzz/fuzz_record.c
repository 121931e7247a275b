/* libFuzzer target: the NDJSON record reader (rgs_record). */
#include "rgs_record.h"
#include "rgs_util.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rgs_verbosity = -1;
    if (size == 0)
        return 0;
    FILE *f = fmemopen((void *)data, size, "r");
    if (!f)
        return 0;
    rgs_reader *r = rgs_reader_new(f, "fuzz", 4096);
    json_t *rec;
    const char *type;
    int rc;
    while ((rc = rgs_reader_next(r, &rec, &type)) != 0) {
        if (rc == 1) {
            (void)rgs_rec_str(rec, "relay");
            (void)rgs_rec_uuid(rec, "folder");
            (void)rgs_rec_int(rec, "n", 0);
            json_decref(rec);
        }
    }
    rgs_reader_free(r);
    fclose(f);
    return 0;
}
