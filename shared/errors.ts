/**
 * Every failure that can reach a user is one of these classes, so each path maps to one
 * CNI error code (spec 1.1 "Error codes") and a stable name that scripts can match on.
 */
export const CniCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnv: 4,
  Io: 5,
  Decode: 6,
  InvalidConfig: 7,
  TryAgainLater: 11,
  StatusUnavailable: 50,
  StatusNoIpam: 51,
  /** ours (100+): the DHCP server refused us (DHCPNAK during ADD). */
  DhcpNak: 100,
  /** ours: the server answered with something we cannot use (no mask, no server id...). */
  DhcpBadReply: 101,
  /** ours: CHECK found the lease missing, not bound, or different from prevResult. */
  CheckFailed: 102,
  /** ours (whereabouts): every usable address of a range is allocated. */
  RangeExhausted: 103,
  /** ours: an unexpected internal failure in the daemon. */
  Internal: 110,
  /**
   * libcni's catch-all (types.ErrInternal): what the reference plugins print for any error that
   * has no spec code. Used only where we mirror a reference plugin's output exactly.
   */
  Unclassified: 999,
} as const;
export type CniCodeValue = (typeof CniCode)[keyof typeof CniCode];

export class CniError extends Error {
  static override readonly name: string = 'CniError';
  readonly code: number;
  readonly details: string | undefined;
  constructor(code: number, message: string, details?: string) {
    super(message);
    this.code = code;
    this.details = details;
    this.name = (this.constructor as typeof CniError).name;
  }
}

export class IncompatibleVersionError extends CniError {
  static override readonly name: string = 'IncompatibleVersionError';
  constructor(message: string, details?: string) { super(CniCode.IncompatibleVersion, message, details); }
}
export class UnsupportedFieldError extends CniError {
  static override readonly name: string = 'UnsupportedFieldError';
  constructor(message: string, details?: string) { super(CniCode.UnsupportedField, message, details); }
}
export class UnknownContainerError extends CniError {
  static override readonly name: string = 'UnknownContainerError';
  constructor(message: string, details?: string) { super(CniCode.UnknownContainer, message, details); }
}
export class InvalidEnvError extends CniError {
  static override readonly name: string = 'InvalidEnvError';
  constructor(message: string, details?: string) { super(CniCode.InvalidEnv, message, details); }
}
export class IoError extends CniError {
  static override readonly name: string = 'IoError';
  constructor(message: string, details?: string) { super(CniCode.Io, message, details); }
}
export class DecodeError extends CniError {
  static override readonly name: string = 'DecodeError';
  constructor(message: string, details?: string) { super(CniCode.Decode, message, details); }
}
export class InvalidConfigError extends CniError {
  static override readonly name: string = 'InvalidConfigError';
  constructor(message: string, details?: string) { super(CniCode.InvalidConfig, message, details); }
}
export class TryAgainLaterError extends CniError {
  static override readonly name: string = 'TryAgainLaterError';
  constructor(message: string, details?: string) { super(CniCode.TryAgainLater, message, details); }
}
export class DaemonUnavailableError extends CniError {
  static override readonly name: string = 'DaemonUnavailableError';
  constructor(message: string, details?: string) { super(CniCode.StatusUnavailable, message, details); }
}
export class DhcpNakError extends CniError {
  static override readonly name: string = 'DhcpNakError';
  constructor(message: string, details?: string) { super(CniCode.DhcpNak, message, details); }
}
export class DhcpBadReplyError extends CniError {
  static override readonly name: string = 'DhcpBadReplyError';
  constructor(message: string, details?: string) { super(CniCode.DhcpBadReply, message, details); }
}
export class CheckFailedError extends CniError {
  static override readonly name: string = 'CheckFailedError';
  constructor(message: string, details?: string) { super(CniCode.CheckFailed, message, details); }
}
export class RangeExhaustedError extends CniError {
  static override readonly name: string = 'RangeExhaustedError';
  constructor(message: string, details?: string) { super(CniCode.RangeExhausted, message, details); }
}
export class UnclassifiedError extends CniError {
  static override readonly name = 'UnclassifiedError';
  constructor(message: string, details?: string) { super(CniCode.Unclassified, message, details); }
}

/**
 * A DHCP packet that does not parse. Never reaches a CNI caller: the daemon drops the packet,
 * counts it, and the lease state does not change.
 */
export class MalformedPacketError extends Error {
  static override readonly name: string = 'MalformedPacketError';
  constructor(message: string) {
    super(message);
    this.name = 'MalformedPacketError';
  }
}

/** Converts anything thrown into a CniError, keeping codes that are already set. */
export function toCniError(err: unknown, fallbackCode: number = CniCode.Internal): CniError {
  if (err instanceof CniError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new CniError(fallbackCode, message);
}
