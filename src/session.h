/* session.h -- what task code (src/tasks/) and the CLI need from a session beyond the public
 * API (src/session.c). */
#ifndef OC_SESSION_H
#define OC_SESSION_H

#include "internal.h"

struct oc_model;

/* A work buffer of at least `bytes` (64-byte aligned) owned by the session, for task code:
 * it only grows, so same-shape calls allocate nothing. NULL when out of memory. Its contents
 * are not kept between calls. */
void *oc_session_task_work(oc_session *s, size_t bytes);

/* The model a session was created on. */
const struct oc_model *oc_session_model(const oc_session *s);

/* The arena slot of a stage's input (NULL stage: the first) after the stage was prepared for
 * the current shapes, NULL otherwise. A task writes its preprocessed image here and passes
 * this same pointer as the input's data: the run then copies nothing. Valid until the
 * stage is rebuilt or re-planned. */
float *oc_session_input_buffer(oc_session *s, const char *stage, const char *name);

/* Names of the named intermediates readable after the last run of the current stage (kept
 * with oc_session_set_keep_layers; outputs excluded), i from 0: NULL past the end. For
 * `ocellus run --layers` on families whose intermediates are not called layerN. */
const char *oc_session_kept_name(const oc_session *s, int i);

/* Four integers a task keeps with the session between calls (segment_sam: the size of the
 * image set by oc_segment_set_image); zero when the session is created. */
int64_t *oc_session_task_slot(oc_session *s);

#endif
