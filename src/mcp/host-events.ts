// The host's task events for MCP clients (HostEvent in protocol.ts): status changes at once, the rest coalesced, and
// each event only to the connections of the client that delegated the task (L3).
import type * as net from 'node:net';
import type { TaskState, TaskStatus } from '../core/task-state';
import { encodeJsonLine } from '../platform/jsonl';
import type { Delegations, McpClient } from './delegations';
import type { TaskService } from './host-server';
import type { HostEvent, WireTask } from './protocol';

/** Task events are coalesced for this long, so a streaming agent does not flood the socket. */
const EVENT_DELAY_MS = 50;

export interface TaskEventFeedParts {
  tasks: TaskService;
  delegations: Delegations;
  /** Welcomed connections and who is on them. */
  connections: ReadonlyMap<net.Socket, McpClient>;
  wire(task: TaskState, allowApprovals: boolean): WireTask;
  allowAgentApprovals(): boolean;
  /** A task seen for the first time, before its created event goes out (so it can be given its owner first). */
  onCreated(taskId: string): void;
}

/** Feeds task events to the owners' connections. */
export class TaskEventFeed {
  private readonly known = new Set<string>();
  private readonly lastStatus = new Map<string, TaskStatus>();
  private readonly dirty = new Set<string>();
  private readonly outputDirty = new Set<string>();
  /** Removed task → its owner (the delegation is gone by the time the event goes out). */
  private readonly removed = new Map<string, string | undefined>();
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly subscriptions: { dispose(): void }[];

  constructor(private readonly parts: TaskEventFeedParts) {
    const { tasks } = parts;
    for (const task of tasks.allTasks()) {
      this.known.add(task.id);
      this.lastStatus.set(task.id, task.status);
    }
    this.subscriptions = [
      tasks.onDidUpdateTask((task) => this.onTaskUpdated(task)),
      tasks.onDidAppendOutput(({ taskId }) => this.markOutput(taskId)),
      tasks.onDidRemoveTask((id) => this.markRemoved(id)),
    ];
  }

  /** Sends events to the connections of `owner`. */
  sendTo(owner: string, events: HostEvent[]): void {
    for (const [socket, client] of this.parts.connections) if (client.owner === owner) write(socket, events);
  }

  /** Status changes go out at once (a client must see every status); other changes are coalesced. */
  private onTaskUpdated(task: TaskState): void {
    const created = !this.known.has(task.id);
    if (created) this.parts.onCreated(task.id);
    const statusChanged = this.lastStatus.get(task.id) !== task.status;
    this.known.add(task.id);
    this.lastStatus.set(task.id, task.status);
    if (this.parts.connections.size === 0) return;
    if (created || statusChanged) {
      this.dirty.delete(task.id);
      const owner = this.parts.delegations.owner(task.id);
      const event: HostEvent = { type: 'event', event: created ? 'taskCreated' : 'taskChanged', task: this.parts.wire(task, this.parts.allowAgentApprovals()) };
      if (owner) this.sendTo(owner, [event]);
      return;
    }
    this.dirty.add(task.id);
    this.scheduleFlush();
  }

  private markOutput(id: string): void {
    if (this.parts.connections.size === 0) return;
    this.outputDirty.add(id);
    this.scheduleFlush();
  }

  private markRemoved(id: string): void {
    this.known.delete(id);
    this.lastStatus.delete(id);
    const owner = this.parts.delegations.owner(id);
    this.parts.delegations.remove(id);
    if (this.parts.connections.size === 0) return;
    this.dirty.delete(id);
    this.outputDirty.delete(id);
    this.removed.set(id, owner);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    this.flushTimer ??= setTimeout(() => this.flush(), EVENT_DELAY_MS);
  }

  private flush(): void {
    this.flushTimer = undefined;
    const { delegations } = this.parts;
    const events: { event: HostEvent; owner: string | undefined }[] = [];
    const allowApprovals = this.parts.allowAgentApprovals();
    const tasks = new Map(this.parts.tasks.allTasks().map((task) => [task.id, task]));
    for (const id of this.dirty) {
      const task = tasks.get(id);
      if (task) events.push({ event: { type: 'event', event: 'taskChanged', task: this.parts.wire(task, allowApprovals) }, owner: delegations.owner(id) });
    }
    for (const id of this.outputDirty) events.push({ event: { type: 'event', event: 'taskOutput', taskId: id }, owner: delegations.owner(id) });
    for (const [id, owner] of this.removed) events.push({ event: { type: 'event', event: 'taskRemoved', taskId: id }, owner });
    this.dirty.clear();
    this.outputDirty.clear();
    this.removed.clear();
    for (const [socket, client] of this.parts.connections) {
      write(socket, events.filter((entry) => entry.owner === client.owner).map((entry) => entry.event));
    }
  }

  dispose(): void {
    clearTimeout(this.flushTimer);
    for (const subscription of this.subscriptions) subscription.dispose();
  }
}

function write(socket: net.Socket, events: HostEvent[]): void {
  if (events.length > 0 && !socket.destroyed) socket.write(events.map(encodeJsonLine).join(''));
}
