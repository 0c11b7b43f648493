#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/scan_common.h"
#include "common/buf.h"
#include "common/fs.h"
#include "common/timeutil.h"
#include "scanner/source_git.h"
#include "common/banned.h"

enum { OPT_ALL_OBJECTS = 2000, OPT_RANGE, OPT_SINCE, OPT_PRE_PUSH, OPT_RECURSE, OPT_EXCLUDE_REMOTES };

/* clang-format off */
static const char usage[] =
	"usage: bstscan git [options] [REPO|URL...]\n"
	"       bstscan git [options] --range A..B [REPO]\n"
	"       bstscan git [options] --since-commit X [REPO]\n"
	"       bstscan git [options] --pre-push [REPO] < ref-lines\n\n"
	"Without a range, scans the full history of each repository (default: the one\n"
	"holding the current directory): every blob reachable from any ref (branches,\n"
	"tags, remote-tracking refs, every stash entry, notes), each once, and every\n"
	"commit and annotated-tag message. Each finding names the commit that\n"
	"introduced it, its author, date and summary, and whether HEAD still holds it.\n"
	"A URL (https://, ssh://, file://, user@host:path) is cloned bare into\n"
	"$XDG_CACHE_HOME/bstscan/repos and fetched on later runs.\n\n"
	"History:\n"
	"      --all-objects       also scan objects no ref reaches (dangling commits,\n"
	"                          dropped stashes), reported with reachable: false\n"
	"      --recurse-submodules  also scan checked-out submodules\n"
	"Changes (only the lines each commit added, against its first parent):\n"
	"      --range A..B        the commits of A..B\n"
	"      --since-commit X    the commits of X..HEAD\n"
	"      --exclude-remote-refs  with --range B (no A): commits on no remote-tracking ref\n"
	"      --pre-push          read git's pre-push lines (<local ref> <local sha>\n"
	"                          <remote ref> <remote sha>) from standard input and scan\n"
	"                          exactly the commits being pushed (a new branch: those on\n"
	"                          no remote-tracking ref; deletions are skipped)\n";
/* clang-format on */

typedef struct git_cli {
	cli_scan_opts *o;
	const char *repo;
	int progress_shown;
	size_t errors;
} git_cli;

static void on_error(void *ud, const char *what, const char *reason)
{
	git_cli *g = ud;
	g->errors++;
	if (g->progress_shown) {
		fputs("\r\033[K", stderr);
		g->progress_shown = 0;
	}
	if (!g->o->quiet)
		fprintf(stderr, "bstscan: warning: %s: %s: %s\n", g->repo, what, reason);
}

static void on_progress(void *ud, const bs_git_progress *p)
{
	git_cli *g = ud;
	double secs = p->elapsed_ms > 0 ? (double)p->elapsed_ms / 1000.0 : 0.001;
	fprintf(stderr, "\r\033[K%s: %llu/%llu objects, %.1f MB/s, %llu commits, %llu findings", g->repo,
	        (unsigned long long)p->objects_done, (unsigned long long)p->objects_total,
	        (double)p->bytes_done / 1e6 / secs, (unsigned long long)p->commits, (unsigned long long)p->findings);
	g->progress_shown = 1;
}

static int is_zero_sha(const char *s)
{
	return *s && strspn(s, "0") == strlen(s);
}

/* Turns git's pre-push lines into a range: push every local sha, hide every remote sha; a new branch hides every
 * remote-tracking ref instead (what the remote already has, as far as we know). */
static int read_pre_push(bs_git_range *r, char ***include, char ***exclude, size_t *n_inc, size_t *n_exc)
{
	char line[4096];
	size_t cap_i = 0, cap_e = 0;
	while (fgets(line, sizeof(line), stdin)) {
		char lref[1024], lsha[128], rref[1024], rsha[128];
		if (sscanf(line, "%1023s %127s %1023s %127s", lref, lsha, rref, rsha) != 4)
			continue;
		if (is_zero_sha(lsha))
			continue; /* a deletion pushes no commit */
		BS_ARRAY_GROW(*include, cap_i, *n_inc + 1);
		(*include)[(*n_inc)++] = bs_xstrdup(lsha);
		if (is_zero_sha(rsha)) {
			r->exclude_remote_refs = 1;
		} else {
			BS_ARRAY_GROW(*exclude, cap_e, *n_exc + 1);
			(*exclude)[(*n_exc)++] = bs_xstrdup(rsha);
		}
	}
	return 0;
}

static char *cache_dir(void)
{
	char *base = bs_fs_cache_dir();
	char *d;
	if (!base)
		return NULL;
	d = bs_xasprintf("%s/repos", base);
	free(base);
	return d;
}

int cmd_git(int argc, char **argv)
{
	static const struct option longopts[] = {
	    CLI_SCAN_LONG_OPTIONS,
	    {"all-objects", no_argument, NULL, OPT_ALL_OBJECTS},
	    {"range", required_argument, NULL, OPT_RANGE},
	    {"since-commit", required_argument, NULL, OPT_SINCE},
	    {"pre-push", no_argument, NULL, OPT_PRE_PUSH},
	    {"recurse-submodules", no_argument, NULL, OPT_RECURSE},
	    {"exclude-remote-refs", no_argument, NULL, OPT_EXCLUDE_REMOTES},
	    {NULL, 0, NULL, 0},
	};
	cli_scan_opts o;
	cli_scan_env env;
	bs_git_opts go;
	bs_git_range range = {0};
	git_cli g = {0};
	const char *range_spec = NULL, *since = NULL;
	char **include = NULL, **exclude = NULL, *since_spec = NULL;
	size_t n_inc = 0, n_exc = 0;
	int c, rc, pre_push = 0, failed = 0, scanned_any = 0, n_repos;
	const char *const dot[] = {"."};
	const char *const *repos;

	cli_scan_opts_init(&o, "git");
	memset(&go, 0, sizeof(go));
	while ((c = getopt_long(argc, argv, CLI_SCAN_SHORT, longopts, NULL)) != -1) {
		int r = cli_scan_opt(&o, c, optarg);
		if (r < 0)
			goto usage_fail;
		if (r > 0)
			continue;
		switch (c) {
		case OPT_ALL_OBJECTS:
			go.all_objects = 1;
			break;
		case OPT_RANGE:
			range_spec = optarg;
			break;
		case OPT_SINCE:
			since = optarg;
			break;
		case OPT_PRE_PUSH:
			pre_push = 1;
			break;
		case OPT_RECURSE:
			go.recurse_submodules = 1;
			break;
		case OPT_EXCLUDE_REMOTES:
			range.exclude_remote_refs = 1;
			break;
		default:
			cli_scan_bad_option(&o, argv);
			goto usage_fail;
		}
	}
	if (o.help) {
		cli_scan_print_help(usage);
		cli_scan_opts_free(&o);
		return CLI_EXIT_CLEAN;
	}
	if ((range_spec != NULL) + (since != NULL) + pre_push > 1) {
		cli_usage_error("git", "--range, --since-commit and --pre-push exclude each other");
		goto usage_fail;
	}
	if ((range_spec || since || pre_push) && (go.all_objects || go.recurse_submodules)) {
		cli_usage_error("git", "--all-objects and --recurse-submodules apply to full-history scans only");
		goto usage_fail;
	}
	if ((range_spec || since || pre_push) && argc - optind > 1) {
		cli_usage_error("git", "a range scan takes one repository");
		goto usage_fail;
	}
	if (range.exclude_remote_refs && !range_spec) {
		cli_usage_error("git", "--exclude-remote-refs goes with --range");
		goto usage_fail;
	}

	n_repos = argc - optind;
	repos = n_repos ? (const char *const *)argv + optind : dot;
	if (!n_repos)
		n_repos = 1;
	rc = cli_scan_setup(&o, bs_git_is_url(repos[0]) ? NULL : repos[0], &env);
	if (rc) {
		cli_scan_opts_free(&o);
		return rc;
	}
	g.o = &o;
	go.jobs = o.jobs;
	go.on_error = on_error;
	go.ud = &g;
	if (!o.quiet && isatty(STDERR_FILENO) && !(range_spec || since || pre_push))
		go.on_progress = on_progress;

	if (range_spec || since || pre_push) {
		bs_error err = BS_ERROR_INIT;
		if (range_spec) {
			range.include = &range_spec;
			range.n_include = 1;
		} else if (since) {
			since_spec = bs_xasprintf("%s..HEAD", since);
			range.include = (const char *const *)&since_spec;
			range.n_include = 1;
		} else {
			read_pre_push(&range, &include, &exclude, &n_inc, &n_exc);
			range.include = (const char *const *)include;
			range.n_include = n_inc;
			range.exclude = (const char *const *)exclude;
			range.n_exclude = n_exc;
		}
		g.repo = repos[0];
		go.repository = repos[0];
		go.index_file = NULL;
		if (pre_push && optind >= argc) {
			go.git_dir = getenv("GIT_DIR");
			go.work_tree = getenv("GIT_WORK_TREE");
		}
		bs_git_stats st = {0};
		if (range.n_include &&
		    bs_git_scan_range(env.scanner, repos[0], &range, &go, &env.findings, &st, &err) < 0) {
			cli_fatal(&err);
			failed = 1;
		} else {
			scanned_any = 1;
		}
		if (!failed && o.verbose) {
			fprintf(stderr, "bstscan: %s: %zu commits, %zu runs of added lines, %.1f MB, %zu errors\n",
			        g.repo, st.commits, st.blobs, (double)st.bytes / 1e6, st.errors);
		}
	} else {
		char *cache = NULL;
		for (int i = 0; i < n_repos; i++) {
			bs_error err = BS_ERROR_INIT;
			char *path = NULL, *display = NULL;
			const char *target = repos[i];
			if (bs_git_is_url(repos[i])) {
				display = bs_git_url_display(repos[i]);
				if (!cache && !(cache = cache_dir())) {
					cli_error("%s: no cache directory (set HOME or XDG_CACHE_HOME)", display);
					failed = 1;
					free(display);
					continue;
				}
				if (bs_git_mirror(&path, repos[i], cache, &err) < 0) {
					cli_error("%s", err.message);
					failed = 1;
					free(display);
					continue;
				}
				target = path;
			}
			g.repo = display ? display : repos[i];
			go.repository = g.repo;
			bs_git_stats st = {0};
			long long t0 = bs_time_monotonic_ms();
			int rc_scan = bs_git_scan_history(env.scanner, target, &go, &env.findings, &st, &err);
			if (g.progress_shown) {
				fputs("\r\033[K", stderr);
				g.progress_shown = 0;
			}
			if (rc_scan < 0) {
				cli_error("%s", err.message);
				failed = 1;
			} else {
				scanned_any = 1;
			}
			if (rc_scan == 0 && o.verbose) {
				fprintf(
				    stderr,
				    "bstscan: %s: %zu commits, %zu blobs, %.1f MB in %.2f s, %zu unreadable objects\n",
				    g.repo, st.commits, st.blobs, (double)st.bytes / 1e6,
				    (double)(bs_time_monotonic_ms() - t0) / 1000.0, st.errors);
			}
			free(path);
			free(display);
		}
		free(cache);
	}

	if (!scanned_any) {
		/* Nothing was scanned: no report saying nothing was found. */
		o.output = "/dev/null";
		o.baseline_out = NULL;
	}
	rc = cli_scan_finish(&o, &env);
	if (failed && rc == CLI_EXIT_CLEAN)
		rc = CLI_EXIT_ERROR;
	for (size_t i = 0; i < n_inc; i++)
		free(include[i]);
	for (size_t i = 0; i < n_exc; i++)
		free(exclude[i]);
	free(include);
	free(exclude);
	free(since_spec);
	cli_scan_opts_free(&o);
	return rc;

usage_fail:
	cli_scan_opts_free(&o);
	return CLI_EXIT_ERROR;
}
