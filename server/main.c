#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/secure.h"
#include "server/srv.h"
#include "common/banned.h"

static void usage(FILE *f)
{
	fputs(
	    "usage: bstscan-server --listen HOST:PORT --db FILE [--issuer URL] [--access-ttl SECONDS]\n"
	    "                      [--refresh-ttl SECONDS] [--device-expires-in SECONDS] [--device-interval SECONDS]\n"
	    "       bstscan-server demo [--listen HOST:PORT] [--db FILE]\n"
	    "       bstscan-server admin --db FILE COMMAND ...   (bstscan-server admin --db X help)\n"
	    "PORT 0 picks a free port; the server prints `listening on http://HOST:PORT` when ready.\n"
	    "See docs/server.md.\n",
	    f);
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int split_listen(const char *listen, char **host, int *port)
{
	const char *colon = strrchr(listen, ':');
	long p;
	if (!colon || colon == listen || parse_long(colon + 1, 0, 65535, &p) < 0)
		return -1;
	*host = bs_xstrndup(listen, (size_t)(colon - listen));
	*port = (int)p;
	return 0;
}

static int serve(bs_srv *s, const char *listen, const char *dbpath)
{
	bs_error err = BS_ERROR_INIT;
	char *host = NULL;
	int port = 0, rc = 0;
	if (split_listen(listen, &host, &port) < 0) {
		fprintf(stderr, "bstscan-server: --listen takes HOST:PORT, e.g. 127.0.0.1:0\n");
		return 2;
	}
	if (!s->db && bs_srv_db_open(&s->db, dbpath, &err) < 0) {
		fprintf(stderr, "bstscan-server: %s\n", err.message);
		free(host);
		return 1;
	}
	if (bs_srv_keys_load(s, &err) < 0 || bs_srv_run(s, host, port, &err) < 0) {
		fprintf(stderr, "bstscan-server: %s\n", err.message);
		rc = 1;
	}
	free(host);
	EVP_PKEY_free(s->signing_key);
	sqlite3_close(s->db);
	free(s->issuer);
	return rc;
}

/* A fresh database with one user and an all-scopes PAT, then serve. */
static int demo(int argc, char **argv)
{
	const char *listen = "127.0.0.1:8080", *dbpath = NULL;
	char *tmpdir = NULL, *path, token[48], *password;
	bs_srv s = {0};
	bs_error err = BS_ERROR_INIT;
	long long uid;
	int rc;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			listen = argv[++i];
		else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
			dbpath = argv[++i];
		else {
			usage(stderr);
			return 2;
		}
	}
	if (dbpath) {
		path = bs_xstrdup(dbpath);
		if (access(path, F_OK) == 0) {
			fprintf(stderr, "bstscan-server demo: %s exists; the demo wants a fresh database\n", path);
			free(path);
			return 1;
		}
	} else {
		const char *t = getenv("TMPDIR");
		tmpdir = bs_xasprintf("%s/bstscan-demo-XXXXXX", t && *t ? t : "/tmp");
		if (!mkdtemp(tmpdir)) {
			perror("bstscan-server demo: mkdtemp");
			return 1;
		}
		path = bs_xasprintf("%s/issuer.db", tmpdir);
	}
	password = bs_srv_random_token(12);
	if (bs_srv_db_open(&s.db, path, &err) < 0 || bs_srv_user_add(s.db, "demo", password, &err) < 0 ||
	    (uid = bs_srv_user_id(s.db, "demo")) < 0 ||
	    bs_srv_pat_create(s.db, uid, "demo admin", BS_SRV_PRODUCT_SCOPES, 0, token, NULL, &err) < 0) {
		fprintf(stderr, "bstscan-server demo: %s\n", err.message);
		return 1;
	}
	s.access_ttl = 900;
	s.refresh_ttl = 30L * 86400;
	s.device_expires_in = 600;
	s.device_interval = 5;
	s.demo_pat = token;
	s.demo_user = "demo";
	s.demo_password = password;
	s.demo_db = path;
	rc = serve(&s, listen, path);
	bs_secure_zero(token, sizeof(token));
	free(password);
	free(path);
	free(tmpdir);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"db", required_argument, NULL, 'd'},
	    {"issuer", required_argument, NULL, 'i'},
	    {"access-ttl", required_argument, NULL, 'a'},
	    {"refresh-ttl", required_argument, NULL, 'r'},
	    {"device-expires-in", required_argument, NULL, 'e'},
	    {"device-interval", required_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	bs_srv s = {0};
	const char *listen = NULL, *dbpath = NULL;
	int c;

	if (argc > 1 && strcmp(argv[1], "admin") == 0)
		return bs_srv_admin_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "demo") == 0)
		return demo(argc - 1, argv + 1);

	s.access_ttl = 900;
	s.refresh_ttl = 30L * 86400;
	s.device_expires_in = 600;
	s.device_interval = 5;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case 'l':
			listen = optarg;
			break;
		case 'd':
			dbpath = optarg;
			break;
		case 'i':
			free(s.issuer);
			s.issuer = bs_xstrdup(optarg);
			/* The issuer is compared byte for byte: no trailing slash. */
			while (strlen(s.issuer) > 1 && s.issuer[strlen(s.issuer) - 1] == '/')
				s.issuer[strlen(s.issuer) - 1] = '\0';
			break;
		case 'a':
			bad = parse_long(optarg, 1, 86400 * 30, &s.access_ttl);
			break;
		case 'r':
			bad = parse_long(optarg, 1, 86400 * 365, &s.refresh_ttl);
			break;
		case 'e':
			bad = parse_long(optarg, 1, 86400, &s.device_expires_in);
			break;
		case 'v':
			bad = parse_long(optarg, 0, 3600, &s.device_interval);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			puts("bstscan-server " BS_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (bad) {
			fprintf(stderr, "bstscan-server: bad value for an option: %s\n", optarg);
			return 2;
		}
	}
	if (!listen || !dbpath || optind != argc) {
		usage(stderr);
		return 2;
	}
	return serve(&s, listen, dbpath);
}
