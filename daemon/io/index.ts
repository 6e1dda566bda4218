/**
 * Packet I/O inside pod network namespaces: AF_PACKET sockets with a kernel BPF filter,
 * polled on Node's libuv loop. docs/architecture.md, "Packet I/O", says why this shape.
 */
export { openPacketSocket } from './packet-socket';
export type { PacketSocket, OpenPacketSocketOptions } from './packet-socket';
export { interfaceStatus } from './interface-status';
export type { InterfaceStatus } from './interface-status';
export { assertNetworkNamespace, threadNetnsId, withNetns } from './netns';
export { PacketIoError } from './errors';
export { allClosed } from './fd-closer';
