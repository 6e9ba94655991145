// The host side of Director plugins (`Dir Plugin Options`): an instance whose host module is `bareosdir`, and the
// job values its GetValue answers. Loading and calling reuse the instance machinery of bareosfd_host.c
// (opfd_import, opfd_load_bareos_plugin, opfd_parse_plugin_definition, opfd_handle_plugin_event).
#include "bareosfd_internal.h"

#include <stdlib.h>
#include <string.h>

void opfd_dir_values_clear(opfd_dir_values *values) {
    if (values == NULL) {
        return;
    }
    free((char *)values->job);
    free((char *)values->job_name);
    free((char *)values->client);
    free((char *)values->pool);
    free((char *)values->storage);
    free((char *)values->write_storage);
    free((char *)values->read_storage);
    free((char *)values->catalog);
    free((char *)values->media_type);
    free((char *)values->volume_name);
    free((char *)values->plugin_dir);
    memset(values, 0, sizeof(*values));
}

/// `*copy` = a malloc'd copy of `text` (NULL stays NULL). 0, or -1 when out of memory.
static int copy_text(const char **copy, const char *text) {
    *copy = NULL;
    if (text == NULL) {
        return 0;
    }
    *copy = strdup(text);
    return *copy != NULL ? 0 : -1;
}

int opfd_director_set_values(opfd_instance *instance, const opfd_dir_values *values) {
    if (instance == NULL || values == NULL) {
        return -1;
    }
    opfd_dir_values copy = *values;
    int failed = copy_text(&copy.job, values->job) | copy_text(&copy.job_name, values->job_name) |
                 copy_text(&copy.client, values->client) | copy_text(&copy.pool, values->pool) |
                 copy_text(&copy.storage, values->storage) | copy_text(&copy.write_storage, values->write_storage) |
                 copy_text(&copy.read_storage, values->read_storage) | copy_text(&copy.catalog, values->catalog) |
                 copy_text(&copy.media_type, values->media_type) |
                 copy_text(&copy.volume_name, values->volume_name) | copy_text(&copy.plugin_dir, values->plugin_dir);
    if (failed) {
        opfd_dir_values_clear(&copy);
        return -1;
    }
    // A priority the plugin set with SetValue(bwDirVarPriority) survives the host's later updates.
    if (instance->dir.job_name != NULL) {
        copy.priority = instance->dir.priority;
    }
    opfd_dir_values_clear(&instance->dir);
    instance->dir = copy;
    return 0;
}

int opfd_director_priority(const opfd_instance *instance) {
    return instance != NULL ? instance->dir.priority : 0;
}

opfd_instance *opfd_director_create(void *host, int debug_level, const opfd_dir_values *values, opfd_error *error) {
    // The file-daemon values stay empty: `bareosfd` is not this instance's host module.
    opfd_job job;
    memset(&job, 0, sizeof(job));
    job.host = host;
    job.job_id = values != NULL ? values->job_id : 0;
    job.debug_level = debug_level;
    job.accurate_options = -1;
    opfd_instance *instance = opfd_instance_create_kind(&job, 1, error);
    if (instance == NULL) {
        return NULL;
    }
    if (values != NULL && opfd_director_set_values(instance, values) < 0) {
        opfd_instance_destroy(instance);
        opfd_error_set(error, "out of memory");
        return NULL;
    }
    return instance;
}
