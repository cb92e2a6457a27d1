import { WebSocket } from 'ws';

/**
 * The design document's appendix-C browser client, ported line for line to a Node `ws`
 * client. Only the browser's `confirm()` dialog is replaced by `decide`, and the URL
 * carries the user (the original broadcast to everyone; this service does not).
 */
export function startSeedBrowserClient(url: string, decide: (message: string) => boolean) {
  const received: any[] = [];
  const ws = new WebSocket(url);
  let pinger: NodeJS.Timeout | undefined;

  ws.onopen = function () {
    // send heartbeat
    pinger = setInterval(() => {
      ws.send(JSON.stringify({ action: 'ping', timestamp: Date.now() }));
    }, 30000);
  };

  ws.onmessage = function (event) {
    const data = JSON.parse(event.data.toString());
    received.push(data);

    // handle task confirmation
    if (data.type === 'task_step_result') {
      const proceed = decide(data.message);
      ws.send(
        JSON.stringify({
          action: 'confirm',
          callback_id: data.callback_id,
          proceed: proceed,
          feedback: proceed ? '同意继续' : '取消执行',
        }),
      );
    }
  };

  ws.onclose = function () {
    clearInterval(pinger);
  };

  return { ws, received, stop: () => ws.close() };
}
