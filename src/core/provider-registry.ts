import { Emitter, type Disposable } from './events';
import type { ProviderId } from './task-state';
import type { ProviderAdapter } from './ports';

/** The providers tasks can run on. Built-in ones register at activation; other extensions and tests through the API. */
export class ProviderRegistry implements Disposable {
  private readonly adapters = new Map<ProviderId, ProviderAdapter>();
  private readonly changeEmitter = new Emitter<void>();
  readonly onDidChange = this.changeEmitter.event;

  register(adapter: ProviderAdapter): Disposable {
    if (!adapter || typeof adapter.id !== 'string' || typeof adapter.start !== 'function') {
      throw new Error('registerProvider needs an adapter with an id and a start() method');
    }
    if (this.adapters.has(adapter.id)) throw new Error(`A provider with id "${adapter.id}" is already registered`);
    this.adapters.set(adapter.id, adapter);
    this.changeEmitter.fire();
    return {
      dispose: () => {
        if (this.adapters.get(adapter.id) === adapter) {
          this.adapters.delete(adapter.id);
          this.changeEmitter.fire();
        }
      },
    };
  }

  get(id: ProviderId): ProviderAdapter | undefined {
    return this.adapters.get(id);
  }

  has(id: ProviderId): boolean {
    return this.adapters.has(id);
  }

  list(): ProviderAdapter[] {
    return [...this.adapters.values()];
  }

  dispose(): void {
    this.changeEmitter.dispose();
  }
}
