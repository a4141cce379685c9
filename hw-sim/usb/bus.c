/* The emulated bus: the probe's usbdevfs ioctl handler on a umockdev testbed.
 *
 * libusb talks to /dev/bus/usb/001/00N with usbdevfs ioctls; umockdev's
 * preload forwards them to this handler (on umockdev's worker thread). We
 * keep submitted URBs, let the firmware fill them, and hand them back on
 * REAPURBNDELAY, as the kernel would.
 *
 * Why REAPURBNDELAY is parked (design.md section 5): the emulated device
 * node is a regular file, so libusb's poll() is always ready and answering
 * EAGAIN at once makes its event loop spin a whole core. A reap with nothing
 * to return is held (up to SIM_PARK_NS) until the pacing thread completes a
 * URB or the deadline passes. The pacing thread must run before libusb opens
 * the device, or a parked request would never be answered.
 *
 * Payload bytes are written straight into the host's URB buffer: the testbed
 * lives in the same process as libusb (like DMA into host memory), which
 * avoids pushing every frame through umockdev's socket twice. The URB
 * structs themselves go through umockdev's resolve/set_ptr API. */
#include "simusb_internal.h"

#include <errno.h>
#include <sys/ioctl.h>
#include <linux/usbdevice_fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void simusb_queue_push(urb_queue *q, sim_urb *u)
{
    u->next = NULL;
    if (q->tail)
        q->tail->next = u;
    else
        q->head = u;
    q->tail = u;
}

sim_urb *simusb_queue_pop(urb_queue *q)
{
    sim_urb *u = q->head;
    if (u) {
        q->head = u->next;
        if (!q->head)
            q->tail = NULL;
        u->next = NULL;
    }
    return u;
}

static bool queue_remove(urb_queue *q, sim_urb *u)
{
    sim_urb *prev = NULL;
    for (sim_urb *it = q->head; it; prev = it, it = it->next) {
        if (it != u)
            continue;
        if (prev)
            prev->next = it->next;
        else
            q->head = it->next;
        if (q->tail == it)
            q->tail = prev;
        it->next = NULL;
        return true;
    }
    return false;
}

static sim_urb *queue_find(urb_queue *q, gulong client_addr)
{
    for (sim_urb *it = q->head; it; it = it->next)
        if (it->data->client_addr == client_addr)
            return it;
    return NULL;
}

/* Hand one completed URB back to a reaping client. */
static void answer_reap(tl_simusb *s, UMockdevIoctlClient *client, sim_urb *u)
{
    s->reap_gave_urb = true;
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    UMockdevIoctlData *ptr = umockdev_ioctl_data_resolve(arg, 0, sizeof(void *), NULL);
    if (!ptr) {
        umockdev_ioctl_client_complete(client, -1, EFAULT);
    } else {
        struct usbdevfs_urb *urb = (struct usbdevfs_urb *)u->data->data;
        urb->actual_length = u->actual;
        urb->status = u->status;
        umockdev_ioctl_data_set_ptr(ptr, 0, u->data);
        umockdev_ioctl_client_complete(client, 0, 0);
        g_object_unref(ptr);
    }
    g_object_unref(u->data);
    free(u);
}

static bool anything_in_flight(const tl_simusb *s)
{
    return s->bulk_pending.head || s->int_pending.head || s->done.head;
}

void simusb_service_parked_locked(tl_simusb *s, uint64_t now)
{
    int keep = 0;
    for (int i = 0; i < s->n_parked; i++) {
        UMockdevIoctlClient *c = s->parked[i];
        sim_urb *u = simusb_queue_pop(&s->done);
        if (u) {
            answer_reap(s, c, u);
            g_object_unref(c);
        } else if (now >= s->parked_deadline[i] || atomic_load(&s->quit)) {
            s->reap_gave_urb = false;
            umockdev_ioctl_client_complete(c, -1, (!s->plugged && !anything_in_flight(s)) ? ENODEV : EAGAIN);
            g_object_unref(c);
        } else {
            s->parked[keep] = c;
            s->parked_deadline[keep] = s->parked_deadline[i];
            keep++;
        }
    }
    s->n_parked = keep;
}

void simusb_urb_complete_locked(tl_simusb *s, sim_urb *u)
{
    simusb_queue_push(&s->done, u);
    if (s->n_parked)
        simusb_service_parked_locked(s, tl_now_ns());
}

static void kill_queue_locked(tl_simusb *s, urb_queue *q, int status)
{
    sim_urb *u;
    while ((u = simusb_queue_pop(q)) != NULL) {
        u->status = status;
        simusb_queue_push(&s->done, u);
    }
}

/* The cable is pulled: outstanding URBs die with -ESHUTDOWN (what the Linux
 * host controller reports), the firmware loses power. */
void simusb_unplug_locked(tl_simusb *s)
{
    if (!s->plugged)
        return;
    s->plugged = false;
    s->streaming = false;
    s->tx_active = false;
    kill_queue_locked(s, &s->bulk_pending, -ESHUTDOWN);
    kill_queue_locked(s, &s->int_pending, -ESHUTDOWN);
    s->stats.unplugs++;
    simusb_service_parked_locked(s, tl_now_ns());
    /* The sysfs entry goes too, so enumeration and libusb's hotplug see it. */
    umockdev_testbed_uevent(s->tb, s->syspath, "remove");
    umockdev_testbed_remove_device(s->tb, s->syspath);
}

static void hex_append(char *dst, size_t cap, const uint8_t *b, size_t n)
{
    size_t len = strlen(dst);
    for (size_t i = 0; i < n && len + 3 < cap; i++, len += 2)
        snprintf(dst + len, cap - len, "%02x", b[i]);
}

/* Plug in (again): a fresh device number, as a real replug gets. */
tl_status simusb_plug(tl_simusb *s)
{
    pthread_mutex_lock(&s->mu);
    if (s->plugged) {
        pthread_mutex_unlock(&s->mu);
        return TL_OK;
    }
    s->devnum++;
    snprintf(s->devnode, sizeof s->devnode, "/dev/bus/usb/001/%03u", s->devnum);
    snprintf(s->syspath, sizeof s->syspath, "/sys/devices/usb1/1-1");
    simusb_firmware_init(s);
    s->bulk_halted = false;
    pthread_mutex_unlock(&s->mu);

    /* Device + configuration descriptors, as sysfs `descriptors` holds them. */
    const uint8_t desc[] = {
        18, 1, 0x00, 0x02, 0, 0, 0, 64,
        TL_PROTO_VID & 0xFF, TL_PROTO_VID >> 8, TL_PROTO_PID & 0xFF, TL_PROTO_PID >> 8,
        0x00, 0x01, 1, 2, 3, 1,
        9, 2, 32, 0, 1, 1, 0, 0x80, 50,                 /* config, 32 bytes, 100 mA */
        9, 4, TL_PROTO_INTERFACE, 0, 2, 0xFF, 0, 0, 0,  /* vendor-class interface */
        7, 5, TL_PROTO_EP_FRAMES, 2, TL_PROTO_BULK_MAX_PACKET & 0xFF, TL_PROTO_BULK_MAX_PACKET >> 8, 0,
        7, 5, TL_PROTO_EP_EVENTS, 3, TL_PROTO_EVENT_MAX_PACKET, 0, 4,
    };
    char hex[2 * sizeof desc + 1] = "";
    hex_append(hex, sizeof hex, desc, sizeof desc);
    char text[1400];
    snprintf(text, sizeof text,
             "P: /devices/usb1/1-1\n"
             "N: bus/usb/001/%03u\n"
             "E: SUBSYSTEM=usb\n"
             "E: DEVTYPE=usb_device\n"
             "E: DRIVER=usb\n"
             "E: BUSNUM=001\n"
             "E: DEVNUM=%03u\n"
             "E: DEVNAME=/dev/bus/usb/001/%03u\n"
             "E: PRODUCT=%x/%x/100\n"
             "A: busnum=1\\n\n"
             "A: devnum=%u\\n\n"
             "A: bConfigurationValue=1\\n\n"
             "A: speed=480\\n\n"
             "A: idVendor=%04x\\n\n"
             "A: idProduct=%04x\\n\n"
             "A: serial=%s\\n\n"
             "H: descriptors=%s\n",
             s->devnum, s->devnum, s->devnum, TL_PROTO_VID, TL_PROTO_PID, s->devnum,
             TL_PROTO_VID, TL_PROTO_PID, s->serial, hex);

    /* The ioctl handler first, so libusb can open the node the moment the
     * add uevent arrives. */
    if (!umockdev_testbed_attach_ioctl(s->tb, s->devnode, s->handler, NULL))
        return TL_ERR_USB;
    /* Powered before the add uevent goes out: libusb may open the node and
     * submit URBs the moment it sees the device. */
    pthread_mutex_lock(&s->mu);
    s->plugged = true;
    s->stats.replugs += s->devnum > 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    GError *err = NULL;
    if (!umockdev_testbed_add_from_string(s->tb, text, &err)) {
        fprintf(stderr, "tl_simusb: cannot add the device: %s\n", err ? err->message : "?");
        if (err)
            g_error_free(err);
        pthread_mutex_lock(&s->mu);
        s->plugged = false;
        pthread_mutex_unlock(&s->mu);
        return TL_ERR_USB;
    }
    return TL_OK;
}

static void on_submit(tl_simusb *s, UMockdevIoctlClient *client)
{
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    UMockdevIoctlData *d = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_urb), NULL);
    if (!d) {
        umockdev_ioctl_client_complete(client, -1, EFAULT);
        return;
    }
    struct usbdevfs_urb *urb = (struct usbdevfs_urb *)d->data;
    if (urb->buffer_length < 0 || (urb->buffer_length > 0 && !urb->buffer)) {
        g_object_unref(d);
        umockdev_ioctl_client_complete(client, -1, EINVAL);
        return;
    }
    sim_urb *u = calloc(1, sizeof *u);
    if (!u) {
        g_object_unref(d);
        umockdev_ioctl_client_complete(client, -1, ENOMEM);
        return;
    }
    u->data = d;
    u->buf = urb->buffer;
    u->len = urb->buffer_length;
    u->ep = urb->endpoint;
    u->type = urb->type;

    if (u->type == USBDEVFS_URB_TYPE_CONTROL && u->len >= 8) {
        simusb_control_locked(s, u);
        umockdev_ioctl_client_complete(client, 0, 0);
        simusb_urb_complete_locked(s, u);
    } else if (u->type == USBDEVFS_URB_TYPE_BULK && u->ep == TL_PROTO_EP_FRAMES) {
        umockdev_ioctl_client_complete(client, 0, 0);
        if (s->bulk_halted) {
            u->status = -EPIPE;
            simusb_urb_complete_locked(s, u);
        } else {
            simusb_queue_push(&s->bulk_pending, u);
            pthread_cond_broadcast(&s->cv);
        }
    } else if (u->type == USBDEVFS_URB_TYPE_INTERRUPT && u->ep == TL_PROTO_EP_EVENTS) {
        umockdev_ioctl_client_complete(client, 0, 0);
        simusb_queue_push(&s->int_pending, u);
        simusb_feed_events_locked(s);
    } else {
        g_object_unref(d);
        free(u);
        umockdev_ioctl_client_complete(client, -1, EINVAL);
    }
}

static void on_reap(tl_simusb *s, UMockdevIoctlClient *client)
{
    sim_urb *u = simusb_queue_pop(&s->done);
    if (u) {
        answer_reap(s, client, u);
    } else if (!s->plugged && !anything_in_flight(s)) {
        umockdev_ioctl_client_complete(client, -1, ENODEV);
    } else if (s->reap_gave_urb || s->n_parked >= SIM_MAX_PARKED || atomic_load(&s->quit)) {
        /* libusb reaps until EAGAIN. Right after handing back URBs, say
         * EAGAIN at once, as the kernel would, so its loop ends; park only
         * the first reap of the next round (poll() is always ready here).
         * Otherwise a stream completing a URB more often than the park
         * time keeps libusb inside one handle_events call for ever, and a
         * sync control transfer in that thread never returns. */
        s->reap_gave_urb = false;
        umockdev_ioctl_client_complete(client, -1, EAGAIN);
    } else {
        s->parked[s->n_parked] = g_object_ref(client);
        s->parked_deadline[s->n_parked] = tl_now_ns() + SIM_PARK_NS;
        s->n_parked++;
        pthread_cond_signal(&s->park_cv);
    }
}

static void on_discard(tl_simusb *s, UMockdevIoctlClient *client)
{
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    gulong addr = (gulong)(uintptr_t) * (void **)arg->data;
    sim_urb *u = queue_find(&s->bulk_pending, addr);
    urb_queue *q = &s->bulk_pending;
    if (!u) {
        u = queue_find(&s->int_pending, addr);
        q = &s->int_pending;
    }
    if (!u) {
        umockdev_ioctl_client_complete(client, -1, EINVAL);
        return;
    }
    queue_remove(q, u);
    /* A bulk URB cancelled half-filled: the rest of that frame is lost to
     * the host, as on a real bus. */
    u->status = -ENOENT;
    umockdev_ioctl_client_complete(client, 0, 0);
    simusb_urb_complete_locked(s, u);
}

gboolean simusb_handle_ioctl(UMockdevIoctlBase *h, UMockdevIoctlClient *client, gpointer user)
{
    (void)h;
    tl_simusb *s = user;
    gulong request = umockdev_ioctl_client_get_request(client);
    const char *node = umockdev_ioctl_client_get_devnode(client);

    pthread_mutex_lock(&s->mu);
    /* A file descriptor from before a replug (old device number) or a
     * pulled cable: the device is gone, except that URBs still queued may be
     * reaped (USBDEVFS_CAP_REAP_AFTER_DISCONNECT). */
    bool stale = !s->plugged || !node || strcmp(node, s->devnode) != 0;
    if (stale && request != USBDEVFS_REAPURBNDELAY && request != USBDEVFS_REAPURB &&
        request != USBDEVFS_DISCARDURB && request != USBDEVFS_RELEASEINTERFACE) {
        if (getenv("TL_SIMUSB_DEBUG"))
            fprintf(stderr, "tl_simusb: ENODEV for ioctl %lx on %s (device %s, plugged %d)\n", request,
                    node ? node : "?", s->devnode, s->plugged);
        umockdev_ioctl_client_complete(client, -1, ENODEV);
    } else if (stale && (request == USBDEVFS_REAPURBNDELAY || request == USBDEVFS_REAPURB)) {
        sim_urb *u = simusb_queue_pop(&s->done);
        if (u)
            answer_reap(s, client, u);
        else
            umockdev_ioctl_client_complete(client, -1, ENODEV);
    } else {
        switch (request) {
        case USBDEVFS_GET_CAPABILITIES: {
            UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
            UMockdevIoctlData *d = umockdev_ioctl_data_resolve(arg, 0, sizeof(uint32_t), NULL);
            if (d) {
                /* Scatter-gather: one libusb transfer is one URB. */
                *(uint32_t *)d->data = USBDEVFS_CAP_BULK_SCATTER_GATHER | USBDEVFS_CAP_NO_PACKET_SIZE_LIM |
                                       USBDEVFS_CAP_ZERO_PACKET | USBDEVFS_CAP_REAP_AFTER_DISCONNECT;
                umockdev_ioctl_client_complete(client, 0, 0);
                g_object_unref(d);
            } else {
                umockdev_ioctl_client_complete(client, -1, EFAULT);
            }
            break;
        }
        case USBDEVFS_CLAIMINTERFACE:
        case USBDEVFS_RELEASEINTERFACE:
        case USBDEVFS_RESET:
        case USBDEVFS_RESETEP:
        case USBDEVFS_SETINTERFACE:
        case USBDEVFS_SETCONFIGURATION:
            umockdev_ioctl_client_complete(client, 0, 0);
            break;
        case USBDEVFS_CLEAR_HALT:
            s->bulk_halted = false;
            umockdev_ioctl_client_complete(client, 0, 0);
            break;
        case USBDEVFS_GETDRIVER:
            umockdev_ioctl_client_complete(client, -1, ENODATA);
            break;
        case USBDEVFS_SUBMITURB:
            on_submit(s, client);
            break;
        case USBDEVFS_REAPURB:
        case USBDEVFS_REAPURBNDELAY:
            on_reap(s, client);
            break;
        case USBDEVFS_DISCARDURB:
            on_discard(s, client);
            break;
        default:
            umockdev_ioctl_client_complete(client, -1, ENOTTY);
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return TRUE;
}

/* Answers parked reaps when their deadline passes. A thread of its own, so
 * that rendering or rebuilding a scene in the pacer never holds libusb's
 * event loop (a sync control transfer waits for that EAGAIN). */
void *simusb_timer_main(void *arg)
{
    tl_simusb *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!atomic_load(&s->quit)) {
        uint64_t now = tl_now_ns();
        simusb_service_parked_locked(s, now);
        uint64_t wake = 0;
        for (int i = 0; i < s->n_parked; i++)
            if (wake == 0 || s->parked_deadline[i] < wake)
                wake = s->parked_deadline[i];
        if (wake == 0) {
            pthread_cond_wait(&s->park_cv, &s->mu);
        } else {
            struct timespec ts = { (time_t)(wake / 1000000000u), (long)(wake % 1000000000u) };
            pthread_cond_timedwait(&s->park_cv, &s->mu, &ts);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}
