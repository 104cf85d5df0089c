// The live feed (/ws/events): reconnects on its own, catches up with ?after= on each reconnect, and hands each
// event to the page once (ids it has seen are ignored: after a reconnect, or when one arrives twice).

const REMEMBERED = 5000;

export class LiveFeed {
  constructor({ unitId = null, onEvent, onStatus = () => {}, onReady = async () => {} }) {
    this.unitId = unitId;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.onReady = onReady;
    this.lastId = null;
    this.seen = new Set();
    this.order = [];
    this.delayMs = 500;
    this.socket = null;
    this.ready = false;
    this.pending = [];
  }

  start() {
    this.connect();
    return this;
  }

  connect() {
    const params = new URLSearchParams();
    if (this.unitId !== null) params.set("unit_id", this.unitId);
    if (this.lastId !== null) params.set("after", this.lastId);
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/ws/events?${params}`);
    this.socket = socket;
    socket.onmessage = (message) => this.receive(JSON.parse(message.data));
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.onStatus(false);
      setTimeout(() => this.connect(), this.delayMs);
      this.delayMs = Math.min(this.delayMs * 2, 5000);
    };
  }

  async receive(message) {
    if (message.type === "hello") {
      this.delayMs = 500;
      this.onStatus(true);
      if (this.lastId === null) {
        // First connection: the page loads what is there now, then applies what arrived meanwhile.
        this.lastId = message.last_id;
        await this.onReady();
        this.ready = true;
        for (const event of this.pending.splice(0)) this.deliver(event);
      }
      return;
    }
    if (message.type !== "event" || this.seen.has(message.id)) return;
    this.seen.add(message.id);
    this.order.push(message.id);
    if (this.order.length > REMEMBERED) this.seen.delete(this.order.shift());
    this.lastId = Math.max(this.lastId ?? 0, message.id);
    if (this.ready) this.deliver(message);
    else this.pending.push(message);
  }

  deliver(event) {
    try {
      this.onEvent(event);
    } catch (error) {
      console.error("event handler failed", event, error);
    }
  }
}
