/* levi/log.h — leveled log lines on stderr. The level comes from LEVI_LOG
 * (error|warn|info|debug), read once by levi_log_init(); default info. */
#ifndef LEVI_LOG_H
#define LEVI_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { LEVI_LOG_ERROR = 0, LEVI_LOG_WARN, LEVI_LOG_INFO, LEVI_LOG_DEBUG } levi_log_level;

void levi_log_init(void);
void levi_log_set_level(levi_log_level level);
levi_log_level levi_log_get_level(void);
/* A tag after "levi: " on every line ("rank 1"); NULL or "" for none. */
void levi_log_set_tag(const char *tag);
void levi_log(levi_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LEVI_WARN(...) levi_log(LEVI_LOG_WARN, __VA_ARGS__)
#define LEVI_INFO(...) levi_log(LEVI_LOG_INFO, __VA_ARGS__)
#define LEVI_DEBUG(...) levi_log(LEVI_LOG_DEBUG, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
