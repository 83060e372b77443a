/* The open model's batching window: the time for five more requests to fall
 * due, within 30-60 us; below ~17k/s the time for one more, up to 80 us;
 * none where not one other request would share the wake-up. */
#include "dispatch.h"
#include "tap.h"

int main(void)
{
	is_int((long long)dispatch_window(0), 0, "no rate, no window");
	is_int((long long)dispatch_window(5000), 0, "5000/s: nothing shares a wake-up, every send on time");
	is_int((long long)dispatch_window(12000), 0, "12000/s: 83 us apart, none within 80 us");
	is_int((long long)dispatch_window(12500), 81000, "12500/s: 80 us apart, the window holds the next (+1 us)");
	is_int((long long)dispatch_window(16000), 63500, "16000/s: 62.5 us apart, the window holds the next (+1 us)");
	is_int((long long)dispatch_window(16666), 61002, "16666/s: just over 60 us apart, still the next");
	is_int((long long)dispatch_window(16668), 60000, "16668/s: within 60 us, the five-sends rule (capped)");
	is_int((long long)dispatch_window(20000), 60000, "20000/s: the longest window, 60 us");
	is_int((long long)dispatch_window(50000), 60000, "50000/s: 60 us, three more");
	is_int((long long)dispatch_window(100000), 50000, "100000/s: 50 us holds five more");
	is_int((long long)dispatch_window(125000), 40000, "125000/s: 40 us holds five more");
	is_int((long long)dispatch_window(1e6), 30000, "1M/s: never under 30 us (30 share it)");
	is_int((long long)dispatch_window(0.0 / 0.0), 0, "NaN: no window");
	return tap_done();
}
