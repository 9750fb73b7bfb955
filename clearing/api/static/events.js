// Live order events for one window (server-sent events, fed by PostgreSQL LISTEN/NOTIFY).
//
// The browser reconnects an EventSource by itself; events sent while it was away are lost, so
// every reconnection is treated like the server's {"type": "resync"}: reload what is shown.

export function watchWindow({ office, windowNo, onEvent, onResync, onStatus, onRefused }) {
  let source = null;
  let timer = null;
  let missed = false;
  let stopped = false;

  function open() {
    const query = new URLSearchParams({ office, window: windowNo });
    source = new EventSource(`/api/v1/events?${query}`);
    source.onopen = () => {
      onStatus(true);
      if (missed) onResync();
      missed = false;
    };
    source.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (event.type === "resync") onResync();
      else onEvent(event);
    };
    source.onerror = () => {
      onStatus(false);
      missed = true;
      // CLOSED means the server refused the stream (signed out, wrong office): the browser
      // will not retry, so we do, after asking why
      if (source.readyState === EventSource.CLOSED && !stopped) {
        onRefused();
        timer = setTimeout(open, 3000);
      }
    };
  }

  open();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (source) source.close();
  };
}
