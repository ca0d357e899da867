/* sysinfo.c -- what machine and build a result came from (results.json "environment"). */
#include "bench.h"
#include "ops.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

char *openblas_get_corename(void); /* libopenblas (cblas.h), declared here to avoid its path */
char *openblas_get_config(void);

static void read_line_file(const char *path, char *out, size_t len)
{
    out[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (fgets(out, (int)len, f)) out[strcspn(out, "\n")] = 0;
    fclose(f);
}

double bn_loadavg(void)
{
    char la[128];
    read_line_file("/proc/loadavg", la, sizeof la);
    return la[0] ? atof(la) : -1;
}

void bn_hash_hex(const void *data, size_t len, char out[17])
{
    const unsigned char *b = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* A hash of the machine id (never the id itself): two VMs from one image share a host name
 * and a CPU model, not a machine id, so a baseline never matches another machine. */
static void machine_id(char *out, size_t len)
{
    char id[128];
    read_line_file("/etc/machine-id", id, sizeof id);
    if (!id[0]) read_line_file("/var/lib/dbus/machine-id", id, sizeof id);
    if (!id[0]) { /* containers often lack one: the first network interface's MAC address */
        DIR *d = opendir("/sys/class/net");
        struct dirent *e;
        char best[64] = "";
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.' || !strcmp(e->d_name, "lo")) continue;
            if (best[0] && strcmp(e->d_name, best) >= 0) continue; /* the first by name */
            char p[320], mac[64];
            snprintf(p, sizeof p, "/sys/class/net/%.255s/address", e->d_name);
            read_line_file(p, mac, sizeof mac);
            if (!mac[0] || !strcmp(mac, "00:00:00:00:00:00")) continue;
            snprintf(best, sizeof best, "%.63s", e->d_name);
            snprintf(id, sizeof id, "mac %s", mac);
        }
        if (d) closedir(d);
    }
    if (!id[0]) {
        snprintf(out, len, "unknown");
        return;
    }
    char hex[17];
    bn_hash_hex(id, strlen(id), hex);
    snprintf(out, len, "%s", hex);
}

static void run_cmd(const char *cmd, char *out, size_t len)
{
    out[0] = 0;
    FILE *p = popen(cmd, "r");
    if (!p) return;
    if (fgets(out, (int)len, p)) out[strcspn(out, "\n")] = 0;
    pclose(p);
}

static void add_warning(bn_env *e, const char *w)
{
    size_t l = strlen(e->warnings);
    snprintf(e->warnings + l, sizeof e->warnings - l, "%s%s", l ? "; " : "", w);
}

void bn_env_collect(bn_env *e, int threads)
{
    memset(e, 0, sizeof *e);
    if (gethostname(e->host, sizeof e->host - 1)) snprintf(e->host, sizeof e->host, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192];
    static const char *simd[] = {"sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw",
                                 "avx512vl", "avx512dq", "avx512_vnni", "avx512_bf16", "amx_tile"};
    if (f) {
        while (fgets(line, sizeof line, f)) {
            if (!e->cpu_model[0] && strncmp(line, "model name", 10) == 0) {
                char *c = strchr(line, ':');
                if (c) {
                    snprintf(e->cpu_model, sizeof e->cpu_model, "%s", c + 2);
                    e->cpu_model[strcspn(e->cpu_model, "\n")] = 0;
                }
            } else if (!e->cpu_flags_simd[0] && strncmp(line, "flags", 5) == 0) {
                for (size_t i = 0; i < sizeof simd / sizeof simd[0]; i++) {
                    char pat[40];
                    snprintf(pat, sizeof pat, " %s", simd[i]);
                    char *hit = strstr(line, pat);
                    size_t pl = strlen(pat);
                    if (hit && (hit[pl] == ' ' || hit[pl] == '\n' || hit[pl] == 0)) {
                        size_t l = strlen(e->cpu_flags_simd);
                        snprintf(e->cpu_flags_simd + l, sizeof e->cpu_flags_simd - l, "%s%s",
                                 l ? " " : "", simd[i]);
                    }
                }
            } else if (e->mhz_cur == 0 && strncmp(line, "cpu MHz", 7) == 0) {
                char *c = strchr(line, ':');
                if (c) e->mhz_cur = atof(c + 1);
            }
        }
        fclose(f);
    }
    e->cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    e->threads = threads > 0 ? threads : oc_get_num_threads();
    snprintf(e->isa, sizeof e->isa, "%s", oc_isa_name(oc_get_isa()));
    const char *core = openblas_get_corename();
    snprintf(e->openblas_core, sizeof e->openblas_core, "%s", core ? core : "?");
    const char *ocfg = openblas_get_config();
    snprintf(e->openblas_config, sizeof e->openblas_config, "%s", ocfg ? ocfg : "?");
#ifdef __VERSION__
    snprintf(e->compiler, sizeof e->compiler, "gcc %s", __VERSION__);
#endif
    const char *cf = getenv("OCELLUS_BENCH_CFLAGS"); /* the Makefile passes its CFLAGS */
    snprintf(e->cflags, sizeof e->cflags, "%s", cf && *cf ? cf : "(not passed: run through make)");
    run_cmd("git rev-parse --short=12 HEAD 2>/dev/null", e->commit, sizeof e->commit);
    if (!e->commit[0]) snprintf(e->commit, sizeof e->commit, "unknown");
    char st[64];
    run_cmd("git status --porcelain --untracked-files=no 2>/dev/null | head -1", st, sizeof st);
    e->dirty = st[0] != 0;
    read_line_file("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", e->governor,
                   sizeof e->governor);
    char mx[64];
    read_line_file("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", mx, sizeof mx);
    if (mx[0]) e->mhz_max = atof(mx) / 1000.0;
    if (!e->governor[0]) {
        snprintf(e->governor, sizeof e->governor, "unavailable");
        add_warning(e, "no cpufreq governor visible (virtual machine?): frequency scaling and "
                       "noisy neighbours are not controlled, compare runs on the same host only");
    } else if (strcmp(e->governor, "performance") != 0) {
        char w[160];
        snprintf(w, sizeof w, "CPU governor is '%s', not 'performance': latency may vary with "
                              "frequency scaling", e->governor);
        add_warning(e, w);
    }
    char tsc[64];
    read_line_file("/sys/devices/system/cpu/intel_pstate/no_turbo", tsc, sizeof tsc);
    if (tsc[0] == '0') add_warning(e, "turbo boost is on: figures depend on thermal headroom");
    machine_id(e->machine_id, sizeof e->machine_id);
    double load = bn_loadavg();
    e->load_start = load;
    /* the floor of any implementation on this host (the latency gate names it when a
     * variant's FLOPs cannot fit in the limit) */
    e->fma_peak_gflops = oc_fma_peak_gflops(oc_get_isa(), threads > 0 ? threads : e->cores, 0.2);
    if (load > 0.5 * e->cores) {
        char w[160];
        snprintf(w, sizeof w, "load average %.2f on %d cores at start: other work competes for "
                              "the CPU", load, e->cores);
        add_warning(e, w);
    }
    struct utsname u;
    if (uname(&u) == 0) snprintf(e->kernel, sizeof e->kernel, "%.60s %.60s %.60s", u.sysname, u.release, u.machine);
    char mem[128];
    read_line_file("/proc/meminfo", mem, sizeof mem);
    if (strncmp(mem, "MemTotal:", 9) == 0) e->mem_total_mb = atof(mem + 9) / 1024.0;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(e->timestamp, sizeof e->timestamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(e->library_version, sizeof e->library_version, "%s", oc_version());
}
