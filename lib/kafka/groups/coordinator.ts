/**
 * The classic Kafka consumer-group protocol for one node (JoinGroup, SyncGroup, Heartbeat,
 * LeaveGroup), membership in memory: after a restart members rejoin, as with any coordinator
 * failover. Committed offsets are the broker's (GroupOffsets), not kept here.
 *
 * A group goes Empty -> PreparingRebalance (joins are held until every known member has rejoined,
 * or the longest rebalance timeout passes; a group's first rebalance waits initialDelayMs so that
 * members starting together land in one generation) -> CompletingRebalance (the generation is
 * chosen, the leader got the members; followers' SyncGroups are held until the leader's, and
 * their heartbeats are answered as in Stable) ->
 * Stable. A member that rejoins a Stable group with the same protocols gets the current generation
 * back: no rebalance. A member silent for its session timeout is removed and the group rebalances.
 * Protocol metadata and assignments are opaque bytes. Thread-confined; timers are unref'd.
 */
import { randomUUID } from 'node:crypto';
import { KafkaError } from '../protocol/error-codes';

type State = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable';

export interface JoinInput {
  groupId: string;
  memberId: string;
  clientId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: { name: string; metadata: Buffer }[];
  /** MEMBER_ID_REQUIRED is answered from JoinGroup v4. */
  requireKnownMemberId: boolean;
}

export interface JoinResult {
  errorCode: number;
  generationId: number;
  protocolName: string | null;
  leader: string;
  memberId: string;
  members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[];
}

interface Member {
  id: string;
  clientId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocols: { name: string; metadata: Buffer }[];
  assignment: Buffer;
  join: ((r: JoinResult) => void) | null;
  sync: ((r: { errorCode: number; assignment: Buffer }) => void) | null;
  session: NodeJS.Timeout | undefined;
}

const SESSION_TIMEOUT_MIN_MS = 6000;
const SESSION_TIMEOUT_MAX_MS = 1_800_000;
const EMPTY = Buffer.alloc(0);

class Group {
  readonly id: string;
  state: State = 'Empty';
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, Member>();
  /** Ids handed out with MEMBER_ID_REQUIRED, awaiting their rejoin. */
  readonly pending = new Map<string, NodeJS.Timeout>();
  rebalanceTimer: NodeJS.Timeout | undefined;
  /** While the first rebalance waits for more members to join, the time it ends. */
  delayUntil = 0;

  constructor(id: string) {
    this.id = id;
  }
}

export class GroupCoordinator {
  readonly #groups = new Map<string, Group>();
  readonly #initialDelayMs: number;

  constructor(initialDelayMs: number) {
    this.#initialDelayMs = initialDelayMs;
  }

  join(j: JoinInput): Promise<JoinResult> {
    const fail = (errorCode: number, memberId = j.memberId): Promise<JoinResult> =>
      Promise.resolve({ errorCode, generationId: -1, protocolName: null, leader: '', memberId, members: [] });
    if (j.groupId === '') return fail(KafkaError.INVALID_GROUP_ID);
    if (j.sessionTimeoutMs < SESSION_TIMEOUT_MIN_MS || j.sessionTimeoutMs > SESSION_TIMEOUT_MAX_MS) return fail(KafkaError.INVALID_SESSION_TIMEOUT);
    const g = this.#group(j.groupId);
    if (g.protocolType !== null && g.members.size > 0 && g.protocolType !== j.protocolType) return fail(KafkaError.INCONSISTENT_GROUP_PROTOCOL);
    if (g.members.size > 0 && !j.protocols.some((p) => [...g.members.values()].every((m) => m.protocols.some((q) => q.name === p.name)))) return fail(KafkaError.INCONSISTENT_GROUP_PROTOCOL);
    let id = j.memberId;
    if (id === '') {
      id = `${j.clientId}-${randomUUID()}`;
      if (j.requireKnownMemberId) {
        g.pending.set(id, unref(setTimeout(() => g.pending.delete(id), j.sessionTimeoutMs)));
        return fail(KafkaError.MEMBER_ID_REQUIRED, id);
      }
    } else if (!g.members.has(id) && !g.pending.has(id)) {
      return fail(KafkaError.UNKNOWN_MEMBER_ID);
    }
    clearTimeout(g.pending.get(id));
    g.pending.delete(id);
    const existing = g.members.get(id);
    if (existing !== undefined && sameProtocols(existing.protocols, j.protocols) && (g.state === 'CompletingRebalance' || (g.state === 'Stable' && g.leaderId !== id))) {
      // Nothing changed: the current generation, no rebalance (in CompletingRebalance the member
      // most likely lost its JoinGroup response; in Stable a follower just rejoined).
      this.#touch(g, existing);
      return Promise.resolve(this.#joinResult(g, existing.id));
    }
    const m: Member = existing ?? { id, clientId: j.clientId, sessionTimeoutMs: j.sessionTimeoutMs, rebalanceTimeoutMs: j.rebalanceTimeoutMs, protocols: j.protocols, assignment: EMPTY, join: null, sync: null, session: undefined };
    m.sessionTimeoutMs = j.sessionTimeoutMs;
    m.rebalanceTimeoutMs = j.rebalanceTimeoutMs;
    m.protocols = j.protocols;
    g.members.set(id, m);
    g.protocolType = j.protocolType;
    const result = new Promise<JoinResult>((resolve) => {
      m.join?.(this.#errorResult(KafkaError.UNKNOWN_MEMBER_ID, id)); // a second join of the same member supersedes the first
      m.join = resolve;
    });
    this.#touch(g, m);
    this.#prepareRebalance(g);
    this.#maybeCompleteJoin(g);
    return result;
  }

  sync(groupId: string, generationId: number, memberId: string, assignments: { memberId: string; assignment: Buffer }[]): Promise<{ errorCode: number; assignment: Buffer }> {
    const g = this.#groups.get(groupId);
    const m = g?.members.get(memberId);
    if (g === undefined || m === undefined) return Promise.resolve({ errorCode: KafkaError.UNKNOWN_MEMBER_ID, assignment: EMPTY });
    if (generationId !== g.generationId) return Promise.resolve({ errorCode: KafkaError.ILLEGAL_GENERATION, assignment: EMPTY });
    this.#touch(g, m);
    if (g.state === 'PreparingRebalance') return Promise.resolve({ errorCode: KafkaError.REBALANCE_IN_PROGRESS, assignment: EMPTY });
    if (g.state === 'Stable') return Promise.resolve({ errorCode: KafkaError.NONE, assignment: m.assignment });
    const answer = new Promise<{ errorCode: number; assignment: Buffer }>((resolve) => {
      // A retried sync supersedes the one held: that one is answered (responses go in order, so an
      // unanswered one would hold up everything after it on its connection).
      m.sync?.({ errorCode: KafkaError.REBALANCE_IN_PROGRESS, assignment: EMPTY });
      m.sync = resolve;
    });
    if (memberId === g.leaderId) {
      const given = new Map(assignments.map((a) => [a.memberId, a.assignment]));
      for (const member of g.members.values()) member.assignment = given.get(member.id) ?? EMPTY;
      g.state = 'Stable';
      for (const member of g.members.values()) {
        member.sync?.({ errorCode: KafkaError.NONE, assignment: member.assignment });
        member.sync = null;
      }
    }
    return answer;
  }

  heartbeat(groupId: string, generationId: number, memberId: string): number {
    const g = this.#groups.get(groupId);
    const m = g?.members.get(memberId);
    if (g === undefined || m === undefined) return KafkaError.UNKNOWN_MEMBER_ID;
    if (generationId !== g.generationId) return KafkaError.ILLEGAL_GENERATION;
    this.#touch(g, m);
    // Between its join and its sync a member may heartbeat: that is not a reason to rejoin (a
    // REBALANCE_IN_PROGRESS there would start another rebalance). Only a rebalance in preparation is.
    return g.state === 'PreparingRebalance' ? KafkaError.REBALANCE_IN_PROGRESS : KafkaError.NONE;
  }

  /** Removes members; the error per member (UNKNOWN_MEMBER_ID for one not in the group). */
  leave(groupId: string, memberIds: string[]): number[] {
    const g = this.#groups.get(groupId);
    const codes = memberIds.map((id) => (g?.members.has(id) ? KafkaError.NONE : KafkaError.UNKNOWN_MEMBER_ID));
    if (g === undefined) return codes;
    let removed = false;
    for (const id of memberIds) removed = this.#remove(g, id) || removed;
    if (removed) this.#afterRemoval(g);
    return codes;
  }

  /** Whether a commit of `generationId` by `memberId` is accepted (the error code if not). */
  checkCommit(groupId: string, generationId: number, memberId: string): number {
    const g = this.#groups.get(groupId);
    // Standalone and admin commits (generation -1) go to a group with no members.
    if (generationId < 0) return g === undefined || g.members.size === 0 ? KafkaError.NONE : KafkaError.ILLEGAL_GENERATION;
    if (g === undefined || !g.members.has(memberId)) return KafkaError.UNKNOWN_MEMBER_ID;
    if (generationId !== g.generationId) return KafkaError.ILLEGAL_GENERATION;
    if (g.state === 'CompletingRebalance') return KafkaError.REBALANCE_IN_PROGRESS;
    this.#touch(g, g.members.get(memberId)!);
    return KafkaError.NONE;
  }

  describe(groupId: string): { state: string; protocolType: string; protocol: string; members: { memberId: string; clientId: string; metadata: Buffer; assignment: Buffer }[] } | null {
    const g = this.#groups.get(groupId);
    if (g === undefined) return null;
    return {
      state: g.state,
      protocolType: g.protocolType ?? '',
      protocol: g.protocolName ?? '',
      members: [...g.members.values()].map((m) => ({ memberId: m.id, clientId: m.clientId, metadata: m.protocols.find((p) => p.name === g.protocolName)?.metadata ?? EMPTY, assignment: m.assignment })),
    };
  }

  list(): { groupId: string; protocolType: string; state: string; members: number }[] {
    return [...this.#groups.values()].map((g) => ({ groupId: g.id, protocolType: g.protocolType ?? '', state: g.state, members: g.members.size }));
  }

  /** Ends every group's timers and held requests (the server is closing). */
  close(): void {
    for (const g of this.#groups.values()) {
      clearTimeout(g.rebalanceTimer);
      for (const t of g.pending.values()) clearTimeout(t);
      for (const m of g.members.values()) {
        clearTimeout(m.session);
        m.join?.(this.#errorResult(KafkaError.COORDINATOR_NOT_AVAILABLE, m.id));
        m.sync?.({ errorCode: KafkaError.COORDINATOR_NOT_AVAILABLE, assignment: EMPTY });
      }
    }
    this.#groups.clear();
  }

  #group(id: string): Group {
    let g = this.#groups.get(id);
    if (g === undefined) {
      g = new Group(id);
      this.#groups.set(id, g);
    }
    return g;
  }

  #touch(g: Group, m: Member): void {
    clearTimeout(m.session);
    m.session = unref(
      setTimeout(() => {
        // A member waiting on its JoinGroup or SyncGroup cannot heartbeat: it counts as alive.
        if (m.join !== null || m.sync !== null) return this.#touch(g, m);
        if (this.#remove(g, m.id)) this.#afterRemoval(g);
      }, m.sessionTimeoutMs),
    );
  }

  #remove(g: Group, id: string): boolean {
    const m = g.members.get(id);
    if (m === undefined) return false;
    clearTimeout(m.session);
    m.join?.(this.#errorResult(KafkaError.UNKNOWN_MEMBER_ID, id));
    m.sync?.({ errorCode: KafkaError.UNKNOWN_MEMBER_ID, assignment: EMPTY });
    g.members.delete(id);
    if (g.leaderId === id) g.leaderId = null;
    return true;
  }

  #afterRemoval(g: Group): void {
    if (g.members.size === 0) {
      clearTimeout(g.rebalanceTimer);
      g.state = 'Empty';
      g.generationId++;
      g.protocolName = null;
      return;
    }
    this.#prepareRebalance(g);
    this.#maybeCompleteJoin(g);
  }

  #prepareRebalance(g: Group): void {
    if (g.state === 'PreparingRebalance') return;
    // Followers waiting on a SyncGroup of the generation that is ending learn of the rebalance.
    for (const m of g.members.values()) {
      m.sync?.({ errorCode: KafkaError.REBALANCE_IN_PROGRESS, assignment: EMPTY });
      m.sync = null;
    }
    const wasEmpty = g.state === 'Empty';
    g.state = 'PreparingRebalance';
    const longest = Math.max(...[...g.members.values()].map((m) => m.rebalanceTimeoutMs));
    // Whenever the group was empty (a new group, or a whole fleet restarting) the first members
    // wait for the others, so that they all land in one generation.
    const wait = wasEmpty ? Math.min(this.#initialDelayMs, longest) : longest;
    clearTimeout(g.rebalanceTimer);
    g.rebalanceTimer = unref(setTimeout(() => this.#completeJoin(g), wait));
    g.delayUntil = wasEmpty ? Date.now() + wait : 0;
  }

  #maybeCompleteJoin(g: Group): void {
    if (g.state !== 'PreparingRebalance' || Date.now() < g.delayUntil) return;
    for (const m of g.members.values()) if (m.join === null) return;
    this.#completeJoin(g);
  }

  #completeJoin(g: Group): void {
    if (g.state !== 'PreparingRebalance') return;
    clearTimeout(g.rebalanceTimer);
    // Members that did not rejoin in time are out.
    for (const m of [...g.members.values()]) if (m.join === null) this.#remove(g, m.id);
    g.generationId++;
    if (g.members.size === 0) {
      g.state = 'Empty';
      return;
    }
    g.protocolName = chooseProtocol([...g.members.values()]);
    if (g.leaderId === null || !g.members.has(g.leaderId)) g.leaderId = g.members.keys().next().value!;
    g.state = 'CompletingRebalance';
    for (const m of g.members.values()) {
      const answer = m.join!;
      m.join = null;
      answer(this.#joinResult(g, m.id));
    }
  }

  #joinResult(g: Group, memberId: string): JoinResult {
    const leader = g.leaderId ?? '';
    return {
      errorCode: KafkaError.NONE,
      generationId: g.generationId,
      protocolName: g.protocolName,
      leader,
      memberId,
      members:
        memberId === leader ? [...g.members.values()].map((m) => ({ memberId: m.id, groupInstanceId: null, metadata: m.protocols.find((p) => p.name === g.protocolName)?.metadata ?? EMPTY })) : [],
    };
  }

  #errorResult(errorCode: number, memberId: string): JoinResult {
    return { errorCode, generationId: -1, protocolName: null, leader: '', memberId, members: [] };
  }
}

/** The protocol every member supports that most members list first (Kafka's vote). */
function chooseProtocol(members: Member[]): string {
  const common = members[0].protocols.map((p) => p.name).filter((name) => members.every((m) => m.protocols.some((p) => p.name === name)));
  const votes = new Map<string, number>(common.map((n) => [n, 0]));
  for (const m of members) {
    const first = m.protocols.find((p) => votes.has(p.name));
    if (first !== undefined) votes.set(first.name, votes.get(first.name)! + 1);
  }
  let best = common[0];
  for (const [n, v] of votes) if (v > votes.get(best)!) best = n;
  return best;
}

function sameProtocols(a: Member['protocols'], b: Member['protocols']): boolean {
  return a.length === b.length && a.every((p, i) => p.name === b[i].name && p.metadata.equals(b[i].metadata));
}

function unref(t: NodeJS.Timeout): NodeJS.Timeout {
  t.unref();
  return t;
}
