/** WebSocket close codes the server uses. */
export enum CloseCode {
  /** Server shutting down. */
  GoingAway = 1001,
  /** Frame larger than WEBSOCKET_MAX_MESSAGE_BYTES. */
  MessageTooBig = 1009,
  /** Server at WEBSOCKET_MAX_CONNECTIONS. */
  TryAgainLater = 1013,
}
