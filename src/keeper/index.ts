/**
 * Keepers (daemon/): stdio agents that outlive the window. What providers see of them is exported here.
 *
 * How a provider uses it (Claude, Copilot, ACP):
 *   start   `const transport = await launcher.start({ command, args, cwd, env, taskId, provider, keepRunningMs })` where
 *           ProcessTransport was `new ProcessTransport({ command, args, cwd, env })`; then, synchronously, subscribe and
 *           `handle.setProviderState({ ...state, keeper: transport.ref })`. A missing executable rejects with
 *           CommandNotFoundError (ProcessTransport reports it through onClose instead).
 *   window  on dispose/shutdown call `transport.detach()` (not close/kill): the agent keeps running.
 *   resume  `const ref = keeperRefFrom(task.providerState)`; `await launcher.attach(ref)` replays the whole journal
 *           (lastSeq 0): rebuild the protocol state from it — a question with no later answer in `onInput` is still
 *           pending and must be asked again; lines up to `transport.welcome.ackedSeq` were already shown by the
 *           previous window (skip their transcript entries). A KeeperError of kind 'gone': the agent is gone; fall back to
 *           resuming the session (--resume, session/load) or `unknown`.
 *   end     close(graceMs) and kill() as with ProcessTransport; Clear of a task whose agent is detached: launcher.kill(ref).
 * Recovery: `launcher.list()` after activation reports live, ended (journal kept, `reason` says why) and dead keepers;
 * kill those whose task is gone or terminal.
 */
export { isKeeperError, KeeperError, type KeeperErrorKind } from './client/errors';
export { keeperOwnerFor, killKeeper, listKeepers, sweepOrphanKeepers } from './client/keepers';
export {
  attachKeeper,
  KeeperLauncher,
  keeperRefFrom,
  startKeeper,
  type KeeperAttachOptions,
  type KeeperInfo,
  type KeeperRef,
  type KeeperReplayedInput,
  type KeeperStartOptions,
} from './client/launcher';
export { KeeperTransport } from './client/transport';
export type { KeeperStatus, KeeperStopKind, KeeperWelcome } from './protocol';
