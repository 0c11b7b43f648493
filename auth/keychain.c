#include <errno.h>
#include <libsecret/secret.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "auth/keychain.h"
#include "common/banned.h"

#define SECRETS_NAME "org.freedesktop.secrets"

static const SecretSchema bs_schema = {"org.bstscan.Credentials",
                                       SECRET_SCHEMA_NONE,
                                       {
                                           {"server", SECRET_SCHEMA_ATTRIBUTE_STRING},
                                           {NULL, 0},
                                       },
                                       0,
                                       NULL,
                                       NULL,
                                       NULL,
                                       NULL,
                                       NULL,
                                       NULL,
                                       NULL};

/* A GCancellable that a timer thread cancels after ms: GLib's sync calls honour it, which bounds
 * every D-Bus round trip, including a prompt that nobody will ever answer. */
typedef struct deadline {
	GCancellable *cancel;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
	int fired;
	int ms;
} deadline;

static void *deadline_main(void *arg)
{
	deadline *d = arg;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += d->ms / 1000;
	ts.tv_nsec += (long)(d->ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L)
		ts.tv_sec++, ts.tv_nsec -= 1000000000L;
	pthread_mutex_lock(&d->mu);
	while (!d->done) {
		if (pthread_cond_timedwait(&d->cv, &d->mu, &ts) == ETIMEDOUT) {
			if (!d->done) {
				d->fired = 1;
				g_cancellable_cancel(d->cancel);
			}
			break;
		}
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

static void deadline_start(deadline *d, int ms)
{
	memset(d, 0, sizeof(*d));
	d->cancel = g_cancellable_new();
	d->ms = ms > 0 ? ms : 10000;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	pthread_create(&d->thread, NULL, deadline_main, d);
}

/* Returns 1 when the deadline fired. */
static int deadline_stop(deadline *d)
{
	int fired;
	pthread_mutex_lock(&d->mu);
	d->done = 1;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->thread, NULL);
	fired = d->fired;
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
	g_object_unref(d->cancel);
	return fired;
}

#define LOCKED_MSG                                                                                                     \
	"the keychain is locked and could not be unlocked (no password prompt could be shown, or it was "              \
	"dismissed); unlock it (e.g. log in to the desktop session), or use --credential-store file"

static int keychain_error(bs_error *err, const char *what, GError *e, int fired, int ms)
{
	int rc;
	if (!fired && e && g_error_matches(e, SECRET_ERROR, SECRET_ERROR_IS_LOCKED))
		rc = bs_error_set(err, BS_ERR_IO, "%s", LOCKED_MSG);
	else if (fired)
		rc =
		    bs_error_set(err, BS_ERR_IO,
		                 "the keychain did not answer within %d ms while %s (is the keyring locked and waiting "
		                 "for a password prompt?); unlock it, or use --credential-store file",
		                 ms, what);
	else
		rc = bs_error_set(err, BS_ERR_IO,
		                  "the keychain failed while %s: %s; use --credential-store file "
		                  "to keep credentials in a file instead",
		                  what, e && e->message ? e->message : "unknown error");
	if (e)
		g_error_free(e);
	return rc;
}

int bs_keychain_probe(int timeout_ms, bs_buf *why, bs_error *err)
{
	const char *addr = getenv("DBUS_SESSION_BUS_ADDRESS");
	const char *rt = getenv("XDG_RUNTIME_DIR");
	GDBusConnection *bus = NULL;
	GVariant *v = NULL;
	GError *e = NULL;
	gboolean owned = FALSE, activatable = FALSE;
	deadline d;
	int fired, rc = 0;

	if (!addr || !*addr) {
		/* Without an address GLib would try $XDG_RUNTIME_DIR/bus and then X11 autolaunch: take only
		 * the first, which is what a systemd user session offers. */
		struct stat st;
		char *sock = rt && *rt ? g_strdup_printf("%s/bus", rt) : NULL;
		int have = sock && stat(sock, &st) == 0 && S_ISSOCK(st.st_mode);
		g_free(sock);
		if (!have) {
			bs_buf_adds(why, "no D-Bus session bus");
			return 0;
		}
	}
	deadline_start(&d, timeout_ms);
	bus = g_bus_get_sync(G_BUS_TYPE_SESSION, d.cancel, &e);
	if (bus) {
		v = g_dbus_connection_call_sync(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
		                                "org.freedesktop.DBus", "NameHasOwner",
		                                g_variant_new("(s)", SECRETS_NAME), G_VARIANT_TYPE("(b)"),
		                                G_DBUS_CALL_FLAGS_NONE, -1, d.cancel, &e);
		if (v) {
			g_variant_get(v, "(b)", &owned);
			g_variant_unref(v);
		}
		if (v && !owned) {
			v = g_dbus_connection_call_sync(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
			                                "org.freedesktop.DBus", "ListActivatableNames", NULL,
			                                G_VARIANT_TYPE("(as)"), G_DBUS_CALL_FLAGS_NONE, -1, d.cancel,
			                                &e);
			if (v) {
				GVariantIter *it;
				const char *name;
				g_variant_get(v, "(as)", &it);
				while (g_variant_iter_next(it, "&s", &name))
					if (!strcmp(name, SECRETS_NAME))
						activatable = TRUE;
				g_variant_iter_free(it);
				g_variant_unref(v);
			}
		}
	}
	fired = deadline_stop(&d);
	if (!bus) {
		bs_buf_addf(why, "cannot connect to the D-Bus session bus: %s",
		            fired ? "timed out" : (e && e->message ? e->message : "unknown error"));
		if (e)
			g_error_free(e);
		return 0;
	}
	if (e || fired)
		rc = keychain_error(err, "looking for the Secret Service on the session bus", e, fired, d.ms);
	else if (owned || activatable)
		rc = 1;
	else
		bs_buf_adds(why, "no Secret Service (org.freedesktop.secrets) on the D-Bus session bus");
	g_object_unref(bus);
	return rc;
}

/* Finds the item with all search flags spelled out, instead of secret_password_lookup(): that one
 * quietly answers "nothing" when the item is locked and unlocking fails (no prompt possible), which
 * would pass a locked keyring off as "not logged in". */
static int lookup(const char *server, bs_buf *out, GCancellable *cancel, GError **e)
{
	SecretService *svc;
	GHashTable *attrs;
	GList *items, *it;
	int rc = BS_ERR_NOTFOUND, locked = 0;
	svc = secret_service_get_sync(SECRET_SERVICE_OPEN_SESSION, cancel, e);
	if (!svc)
		return BS_ERR_IO;
	attrs = secret_attributes_build(&bs_schema, "server", server, NULL);
	items = secret_service_search_sync(svc, &bs_schema, attrs, SECRET_SEARCH_ALL, cancel, e);
	g_hash_table_unref(attrs);
	if (*e) {
		g_object_unref(svc);
		return BS_ERR_IO;
	}
	for (it = items; it; it = it->next)
		if (secret_item_get_locked(it->data))
			locked = 1;
	if (locked) {
		GList *unlocked = NULL;
		secret_service_unlock_sync(svc, items, cancel, &unlocked, e);
		g_list_free_full(unlocked, g_object_unref);
		if (*e) {
			rc = BS_ERR_IO;
			goto out;
		}
	}
	for (it = items; it && rc == BS_ERR_NOTFOUND; it = it->next) {
		SecretValue *v;
		if (secret_item_get_locked(it->data))
			continue;
		if (!secret_item_get_secret(it->data) && !secret_item_load_secret_sync(it->data, cancel, e)) {
			rc = BS_ERR_IO;
			break;
		}
		v = secret_item_get_secret(it->data);
		if (v) {
			gsize n;
			const gchar *p = secret_value_get(v, &n);
			bs_buf_add(out, p, n);
			secret_value_unref(v);
			rc = 0;
		}
	}
	if (rc == BS_ERR_NOTFOUND && locked)
		rc = 1; /* there is a login, but the keyring stayed locked */
out:
	g_list_free_full(items, g_object_unref);
	g_object_unref(svc);
	return rc;
}

int bs_keychain_load(const char *server, bs_buf *out, int timeout_ms, bs_error *err)
{
	GError *e = NULL;
	deadline d;
	int fired, rc;
	deadline_start(&d, timeout_ms);
	rc = lookup(server, out, d.cancel, &e);
	fired = deadline_stop(&d);
	if (rc == 1)
		return bs_error_set(err, BS_ERR_IO, "%s", LOCKED_MSG);
	if (e || fired || rc == BS_ERR_IO)
		return keychain_error(err, "reading the stored login", e, fired, d.ms);
	if (rc == BS_ERR_NOTFOUND)
		return bs_error_set(err, BS_ERR_NOTFOUND, "no login for %s in the keychain", server);
	return 0;
}

int bs_keychain_store(const char *server, const char *secret, int timeout_ms, bs_error *err)
{
	GError *e = NULL;
	gchar *label = g_strdup_printf("bstscan login for %s", server);
	gboolean ok;
	deadline d;
	int fired;
	deadline_start(&d, timeout_ms);
	ok = secret_password_store_sync(&bs_schema, SECRET_COLLECTION_DEFAULT, label, secret, d.cancel, &e, "server",
	                                server, NULL);
	fired = deadline_stop(&d);
	g_free(label);
	if (!ok || e || fired)
		return keychain_error(err, "saving the login", e, fired, d.ms);
	return 0;
}

int bs_keychain_delete(const char *server, int *deleted, int timeout_ms, bs_error *err)
{
	GError *e = NULL;
	gboolean removed;
	deadline d;
	int fired;
	deadline_start(&d, timeout_ms);
	removed = secret_password_clear_sync(&bs_schema, d.cancel, &e, "server", server, NULL);
	fired = deadline_stop(&d);
	if (e || fired)
		return keychain_error(err, "deleting the stored login", e, fired, d.ms);
	if (deleted && removed)
		*deleted = 1;
	return 0;
}
