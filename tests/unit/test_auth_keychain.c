/* The keychain backend (Secret Service through libsecret).
 *
 * Suite "keychain" needs a real, unlocked Secret Service: scripts/test provides one by running the
 * suite under `dbus-run-session -- tests/keyring-session.sh`, which sets BSTSCAN_TEST_KEYRING=1.
 * Without it the suite fails under CI (CI=true) and is skipped, saying why, for a developer who runs
 * this binary by hand.
 *
 * Suite "keychain_env" builds the situations itself on private D-Bus buses (no bus at all, a bus
 * without a Secret Service, a service that hangs, a locked GNOME Keyring), so it runs anywhere
 * dbus-daemon and gnome-keyring-daemon are installed.
 */
#include <criterion/criterion.h>
#include <gio/gio.h>
#include <libsecret/secret.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "common/fs.h"
#include "tests/fixtures/auth/fake_oauth.h"
#include "tests/support/testutil.h"

static char *tmp;
static pid_t bus_pid;   /* a private dbus-daemon, stopped by teardown even when a test fails */
static pid_t owner_pid; /* the fake, frozen Secret Service */

static void setup(void)
{
	tmp = bs_test_mkdtemp();
	setenv("XDG_CONFIG_HOME", tmp, 1);
	unsetenv("BSTSCAN_TOKEN");
	unsetenv("BSTSCAN_OIDC");
	unsetenv("BSTSCAN_KEYCHAIN_TIMEOUT_MS");
}

static void teardown(void)
{
	/* Stopping the bus also ends a gnome-keyring-daemon started on it. */
	if (owner_pid > 0) {
		kill(owner_pid, SIGKILL);
		waitpid(owner_pid, NULL, 0);
	}
	owner_pid = 0;
	if (bus_pid > 0)
		bs_test_stop(bus_pid);
	bus_pid = 0;
	bs_test_rmtree(tmp);
	free(tmp);
}

static void need_keyring(void)
{
	const char *ci = getenv("CI");
	if (getenv("BSTSCAN_TEST_KEYRING"))
		return;
	if (ci && (!strcmp(ci, "true") || !strcmp(ci, "1")))
		cr_assert_fail("the keychain tests need a Secret Service: run them through scripts/test, or as "
		               "dbus-run-session -- tests/keyring-session.sh ctest -R test_auth_keychain");
	cr_skip_test("no test keyring: run under `dbus-run-session -- tests/keyring-session.sh` to test the "
	             "keychain (this skip is not allowed under CI=true)");
}

static void keyring_setup(void)
{
	setup();
	need_keyring();
}

TestSuite(keychain, .init = keyring_setup, .fini = teardown);
TestSuite(keychain_env, .init = setup, .fini = teardown);

/* A server URL no other test uses, so parallel tests never share a keychain item. */
static char *unique_server(void)
{
	char pat[48];
	bs_test_make_bst_token(pat);
	return bs_xasprintf("https://kc-%d-%.12s.example", (int)getpid(), pat + 4);
}

static int file_exists(const char *rel)
{
	struct stat st;
	char *p = bs_xasprintf("%s/bstscan/%s", tmp, rel);
	int r = stat(p, &st) == 0;
	free(p);
	return r;
}

/* ---- with the real test keyring ---- */

Test(keychain, saves_loads_and_deletes_under_the_server_attribute)
{
	bs_cred_store *st;
	bs_cred_store_options so = {BS_STORE_KEYCHAIN, 5000};
	bs_error err = BS_ERROR_INIT;
	bs_auth_creds c = {0}, got;
	bs_store_kind where = BS_STORE_AUTO;
	char *server = unique_server();
	int deleted = 0;
	const char *argv[] = {"/usr/bin/secret-tool", "lookup", "server", server, NULL};
	bs_test_proc p;
	cr_assert_eq(bs_cred_store_open(&st, &so, &err), 0, "%s", err.message);
	cr_assert_eq(bs_cred_store_kind(st), BS_STORE_KEYCHAIN);
	cr_assert_null(bs_cred_store_warning(st));
	c.server = server;
	c.access_token = "kc-access";
	c.refresh_token = "kc-refresh";
	c.expires_at = 1893456000;
	cr_assert_eq(bs_cred_store_save(st, &c, &err), 0, "%s", err.message);
	cr_assert_not(file_exists("credentials.json"), "the keychain login leaves no file behind");
	cr_assert_eq(bs_cred_store_load(st, server, &got, &where, &err), 0, "%s", err.message);
	cr_assert_eq(where, BS_STORE_KEYCHAIN);
	cr_assert_str_eq(got.access_token, "kc-access");
	cr_assert_str_eq(got.refresh_token, "kc-refresh");
	cr_assert_eq(got.expires_at, 1893456000);
	bs_auth_creds_free(&got);
	/* Another Secret Service client finds it by the server attribute. */
	cr_assert_eq(bs_test_run(&p, argv, NULL, NULL, NULL, 0, 20), 0);
	cr_assert_eq(p.status, 0, "%s", p.err.ptr);
	cr_assert(strstr(p.out.ptr, "kc-refresh"), "%s", p.out.ptr);
	bs_test_proc_free(&p);
	cr_assert_eq(bs_cred_store_delete(st, server, &deleted, &err), 0, "%s", err.message);
	cr_assert(deleted);
	cr_assert_eq(bs_cred_store_load(st, server, &got, NULL, &err), BS_ERR_NOTFOUND);
	bs_cred_store_close(st);
	free(server);
}

Test(keychain, auto_mode_uses_the_keychain_and_refreshes_into_it)
{
	fake_oauth *fo = fo_start();
	bs_auth_options o = {0};
	bs_auth_session *s;
	bs_cred_store *st;
	bs_cred_store_options so = {BS_STORE_AUTO, 5000};
	bs_error err = BS_ERROR_INIT;
	bs_auth_creds c = {0}, got;
	bs_buf tok = BS_BUF_INIT;
	char *jwt = fo_make_jwt((long long)time(NULL) + 900, "alice");
	char *body = bs_xasprintf("{\"access_token\":\"%s\",\"token_type\":\"Bearer\",\"expires_in\":900,"
	                          "\"refresh_token\":\"kc-rt-2\"}",
	                          jwt);
	int deleted;
	fo_json(fo, "POST", "/oauth/token", 200, body);
	cr_assert_eq(bs_cred_store_open(&st, &so, &err), 0, "%s", err.message);
	cr_assert_eq(bs_cred_store_kind(st), BS_STORE_KEYCHAIN);
	c.server = fo->url;
	c.client_id = "bstscan-cli";
	c.token_endpoint = bs_xasprintf("%s/oauth/token", fo->url);
	c.access_token = "kc-old";
	c.refresh_token = "kc-rt-1";
	c.expires_at = time(NULL) - 5;
	cr_assert_eq(bs_cred_store_save(st, &c, &err), 0, "%s", err.message);
	o.server = fo->url;
	cr_assert_eq(bs_auth_session_open(&s, &o, &err), 0, "%s", err.message);
	cr_assert_eq(bs_auth_session_source(s), BS_AUTH_SOURCE_KEYCHAIN);
	cr_assert_str_eq(bs_auth_source_name(BS_AUTH_SOURCE_KEYCHAIN), "keychain");
	cr_assert_eq(bs_auth_bearer(s, &tok, &err), 0, "%s", err.message);
	cr_assert_str_eq(tok.ptr, jwt);
	cr_assert_eq(bs_cred_store_load(st, fo->url, &got, NULL, &err), 0, "%s", err.message);
	cr_assert_str_eq(got.refresh_token, "kc-rt-2", "the rotated token went back to the keychain");
	bs_auth_creds_free(&got);
	cr_assert_not(file_exists("credentials.json"));
	bs_auth_session_close(s);
	bs_cred_store_delete(st, fo->url, &deleted, &err);
	bs_cred_store_close(st);
	bs_buf_free_secure(&tok);
	free(c.token_endpoint);
	free(jwt);
	free(body);
	fo_stop(fo);
}

Test(keychain, auto_mode_still_finds_a_login_kept_in_the_file)
{
	bs_cred_store *st;
	bs_cred_store_options file = {BS_STORE_FILE, 0}, aut = {BS_STORE_AUTO, 5000};
	bs_error err = BS_ERROR_INIT;
	bs_auth_creds c = {0}, got;
	bs_store_kind where = BS_STORE_AUTO;
	char *server = unique_server();
	cr_assert_eq(bs_cred_store_open(&st, &file, &err), 0);
	c.server = server;
	c.access_token = "file-access";
	cr_assert_eq(bs_cred_store_save(st, &c, &err), 0);
	bs_cred_store_close(st);
	cr_assert_eq(bs_cred_store_open(&st, &aut, &err), 0, "%s", err.message);
	cr_assert_eq(bs_cred_store_load(st, server, &got, &where, &err), 0, "%s", err.message);
	cr_assert_eq(where, BS_STORE_FILE);
	cr_assert_str_eq(got.access_token, "file-access");
	bs_auth_creds_free(&got);
	bs_cred_store_close(st);
	free(server);
}

Test(keychain, cli_login_status_logout_use_the_keychain)
{
	fake_oauth *fo = fo_start();
	char *xdg = bs_xasprintf("XDG_CONFIG_HOME=%s", tmp);
	const char *env[] = {xdg, "BSTSCAN_TOKEN=", "BSTSCAN_OIDC=", "DISPLAY=", "WAYLAND_DISPLAY=", NULL};
	char *jwt = fo_make_jwt((long long)time(NULL) + 900, "alice");
	char *body = bs_xasprintf("{\"access_token\":\"%s\",\"token_type\":\"Bearer\",\"expires_in\":900,"
	                          "\"refresh_token\":\"kc-cli-rt\"}",
	                          jwt);
	bs_test_proc p;
	bs_cred_store *st;
	bs_cred_store_options so = {BS_STORE_KEYCHAIN, 5000};
	bs_error err = BS_ERROR_INIT;
	bs_auth_creds got;
	fo_json(fo, "POST", "/oauth/device/authorize", 200,
	        "{\"device_code\":\"dc\",\"user_code\":\"BCDF-GHJK\",\"verification_uri\":\"{URL}/device\","
	        "\"expires_in\":60,\"interval\":1}");
	fo_json(fo, "POST", "/oauth/token", 200, body);
	fo_json(fo, "GET", "/api/v1/me", 200, "{\"sub\":\"alice\",\"scopes\":[\"leaks:check\"]}");
	fo_add(fo, "POST", "/oauth/revoke", (fo_reply){200, NULL, "", NULL, 0, 0});
	{
		const char *argv[] = {BSTSCAN_BIN, "auth", "login", "--no-browser", "--server", fo->url, NULL};
		cr_assert_eq(bs_test_run(&p, argv, NULL, env, NULL, 0, 60), 0);
		cr_assert_eq(p.status, 0, "%s", p.err.ptr);
		cr_assert(strstr(p.err.ptr, "saved in the keychain"), "%s", p.err.ptr);
		cr_assert_null(strstr(p.err.ptr, "secure storage is unavailable"), "%s", p.err.ptr);
		bs_test_proc_free(&p);
	}
	cr_assert_not(file_exists("credentials.json"));
	cr_assert_eq(bs_cred_store_open(&st, &so, &err), 0, "%s", err.message);
	cr_assert_eq(bs_cred_store_load(st, fo->url, &got, NULL, &err), 0, "%s", err.message);
	cr_assert_str_eq(got.refresh_token, "kc-cli-rt");
	bs_auth_creds_free(&got);
	{
		const char *argv[] = {BSTSCAN_BIN, "auth", "status", "--server", fo->url, NULL};
		cr_assert_eq(bs_test_run(&p, argv, NULL, env, NULL, 0, 60), 0);
		cr_assert_eq(p.status, 0, "%s", p.err.ptr);
		cr_assert(strstr(p.out.ptr, "Credential: keychain"), "%s", p.out.ptr);
		bs_test_proc_free(&p);
	}
	{
		const char *argv[] = {BSTSCAN_BIN, "auth", "logout", "--server", fo->url, NULL};
		cr_assert_eq(bs_test_run(&p, argv, NULL, env, NULL, 0, 60), 0);
		cr_assert_eq(p.status, 0, "%s", p.err.ptr);
		cr_assert(strstr(p.err.ptr, "revoked at the server"), "%s", p.err.ptr);
		bs_test_proc_free(&p);
	}
	cr_assert_eq(bs_cred_store_load(st, fo->url, &got, NULL, &err), BS_ERR_NOTFOUND, "logout emptied the keychain");
	bs_cred_store_close(st);
	free(xdg);
	free(jwt);
	free(body);
	fo_stop(fo);
}

/* ---- situations built on private buses ---- */

static const char *const bare_bus_conf =
    "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
    " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
    "<busconfig><type>session</type><listen>unix:tmpdir=/tmp</listen><auth>EXTERNAL</auth>\n"
    "<policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>"
    "<allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>\n";

/* Starts a dbus-daemon with no activatable services; sets DBUS_SESSION_BUS_ADDRESS to it. */
static pid_t private_bus(void)
{
	char *conf = bs_xasprintf("%s/bus.conf", tmp);
	char *arg = bs_xasprintf("--config-file=%s", conf);
	const char *argv[] = {"/usr/bin/dbus-daemon", arg, "--print-address=1", "--nofork", NULL};
	bs_buf addr = BS_BUF_INIT;
	pid_t pid;
	bs_test_write_str(tmp, "bus.conf", bare_bus_conf);
	pid = bs_test_spawn_until(argv, NULL, "unix:", &addr, 20);
	cr_assert_gt(pid, 0, "cannot start dbus-daemon");
	setenv("DBUS_SESSION_BUS_ADDRESS", addr.ptr, 1);
	bus_pid = pid;
	bs_buf_free(&addr);
	free(conf);
	free(arg);
	return pid;
}

Test(keychain_env, no_session_bus_falls_back_to_the_file_with_a_warning)
{
	bs_cred_store *st;
	bs_cred_store_options aut = {BS_STORE_AUTO, 2000}, kc = {BS_STORE_KEYCHAIN, 2000};
	bs_error err = BS_ERROR_INIT;
	unsetenv("DBUS_SESSION_BUS_ADDRESS");
	setenv("XDG_RUNTIME_DIR", tmp, 1);
	cr_assert_eq(bs_cred_store_open(&st, &aut, &err), 0, "%s", err.message);
	cr_assert_eq(bs_cred_store_kind(st), BS_STORE_FILE);
	cr_assert_not_null(bs_cred_store_warning(st));
	cr_assert(strstr(bs_cred_store_warning(st), "secure storage is unavailable (no D-Bus session bus)"), "%s",
	          bs_cred_store_warning(st));
	cr_assert(strstr(bs_cred_store_warning(st), "credentials.json"));
	bs_cred_store_close(st);
	cr_assert_eq(bs_cred_store_open(&st, &kc, &err), BS_ERR_UNSUPPORTED, "asked for the keychain: no fallback");
	cr_assert(strstr(err.message, "keychain is not available"), "%s", err.message);
}

Test(keychain_env, a_bus_without_a_secret_service_falls_back_too)
{
	private_bus();
	bs_cred_store *st;
	bs_cred_store_options aut = {BS_STORE_AUTO, 2000};
	bs_error err = BS_ERROR_INIT;
	cr_assert_eq(bs_cred_store_open(&st, &aut, &err), 0, "%s", err.message);
	cr_assert_eq(bs_cred_store_kind(st), BS_STORE_FILE);
	cr_assert(strstr(bs_cred_store_warning(st), "no Secret Service"), "%s", bs_cred_store_warning(st));
	bs_cred_store_close(st);
}

Test(keychain_env, a_secret_service_that_hangs_is_an_error_not_a_fallback)
{
	pid_t owner;
	int ready[2];
	char c;
	bs_cred_store *st;
	bs_cred_store_options aut = {BS_STORE_AUTO, 800}, file = {BS_STORE_FILE, 0};
	bs_error err = BS_ERROR_INIT;
	bs_auth_creds got;
	private_bus();
	cr_assert_eq(pipe(ready), 0);
	owner = fork();
	cr_assert_geq(owner, 0);
	if (owner == 0) {
		/* Takes the Secret Service's name and then never answers: a keyring stuck on a prompt. */
		GDBusConnection *b = g_bus_get_sync(G_BUS_TYPE_SESSION, NULL, NULL);
		GVariant *v = b ? g_dbus_connection_call_sync(b, "org.freedesktop.DBus", "/org/freedesktop/DBus",
		                                              "org.freedesktop.DBus", "RequestName",
		                                              g_variant_new("(su)", "org.freedesktop.secrets", 4u),
		                                              NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL)
		                : NULL;
		if (!v || write(ready[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	owner_pid = owner;
	cr_assert_eq(read(ready[0], &c, 1), 1, "the fake service could not take the name");
	kill(owner, SIGSTOP);
	cr_assert_eq(bs_cred_store_open(&st, &aut, &err), 0, "%s", err.message);
	cr_assert_eq(bs_cred_store_kind(st), BS_STORE_KEYCHAIN, "a service that is there is not 'absent'");
	cr_assert_eq(bs_cred_store_load(st, "https://x.example", &got, NULL, &err), BS_ERR_IO);
	cr_assert(strstr(err.message, "did not answer"), "%s", err.message);
	cr_assert(strstr(err.message, "--credential-store file"), "%s", err.message);
	bs_cred_store_close(st);
	/* The user can still choose the file explicitly. */
	cr_assert_eq(bs_cred_store_open(&st, &file, &err), 0);
	cr_assert_eq(bs_cred_store_load(st, "https://x.example", &got, NULL, &err), BS_ERR_NOTFOUND);
	bs_cred_store_close(st);
}

Test(keychain_env, a_locked_keyring_is_an_error_that_says_why)
{
	private_bus();
	char *data = bs_xasprintf("XDG_DATA_HOME=%s/data", tmp), *run = bs_xasprintf("XDG_RUNTIME_DIR=%s/run", tmp);
	char *dbus = bs_xasprintf("DBUS_SESSION_BUS_ADDRESS=%s", getenv("DBUS_SESSION_BUS_ADDRESS"));
	const char *env[] = {data, run, dbus, NULL};
	const char *argv[] = {"/usr/bin/gnome-keyring-daemon", "--unlock", "--components=secrets", "--daemonize", NULL};
	bs_test_proc p;
	bs_cred_store *st;
	bs_cred_store_options kc = {BS_STORE_KEYCHAIN, 3000}, aut = {BS_STORE_AUTO, 3000};
	st = NULL;
	bs_error err = BS_ERROR_INIT;
	bs_auth_creds c = {0}, got;
	SecretService *svc;
	SecretCollection *coll;
	GList *objs;
	GError *ge = NULL;
	char *rundir = bs_xasprintf("%s/run", tmp);
	cr_assert_eq(bs_fs_mkdir_p(rundir, 0700, &err), 0);
	setenv("XDG_RUNTIME_DIR", rundir, 1);
	cr_assert_eq(bs_test_run(&p, argv, NULL, env, "keyring-pass", 12, 30), 0);
	cr_assert_eq(p.status, 0, "gnome-keyring-daemon: %s", p.err.ptr);
	bs_test_proc_free(&p);

	c.server = "https://locked.example";
	c.access_token = "locked-access";
	/* The daemon takes a moment to own its name; a save proves the unlocked keyring works. */
	for (int i = 0; i < 50; i++) {
		if (bs_cred_store_open(&st, &kc, &err) == 0) {
			if (bs_cred_store_save(st, &c, &err) == 0)
				break;
			bs_cred_store_close(st);
			st = NULL;
		}
		usleep(100000);
	}
	cr_assert_not_null(st, "%s", err.message);
	bs_cred_store_close(st);

	svc = secret_service_get_sync(SECRET_SERVICE_LOAD_COLLECTIONS, NULL, &ge);
	cr_assert_not_null(svc, "%s", ge ? ge->message : "");
	coll = secret_collection_for_alias_sync(svc, SECRET_COLLECTION_DEFAULT, SECRET_COLLECTION_NONE, NULL, &ge);
	cr_assert_not_null(coll, "%s", ge ? ge->message : "");
	objs = g_list_append(NULL, coll);
	cr_assert_geq(secret_service_lock_sync(svc, objs, NULL, NULL, &ge), 1, "%s", ge ? ge->message : "");
	g_list_free(objs);

	cr_assert_eq(bs_cred_store_open(&st, &aut, &err), 0, "%s", err.message);
	cr_assert_eq(bs_cred_store_kind(st), BS_STORE_KEYCHAIN);
	cr_assert_eq(bs_cred_store_load(st, "https://locked.example", &got, NULL, &err), BS_ERR_IO,
	             "a locked keyring is neither 'not found' nor a reason to use the file");
	cr_assert(strstr(err.message, "keychain is locked"), "%s", err.message);
	cr_assert(strstr(err.message, "--credential-store file"), "%s", err.message);
	cr_assert_null(strstr(err.message, "locked-access"));
	bs_cred_store_close(st);
	g_object_unref(coll);
	g_object_unref(svc);
	free(data);
	free(run);
	free(dbus);
	free(rundir);
}
