import { IoError } from '../../shared/errors';

/**
 * A failed system call at the packet I/O edge. It is an IoError (CNI code 5), and it also
 * carries the errno name ("ENETDOWN", "ENXIO", ...) and the call, so the lease manager can
 * tell "link gone" from "try again" without parsing the message.
 */
export class PacketIoError extends IoError {
  static override readonly name: string = 'PacketIoError';
  /** errno name such as "ENODEV", or "" when the failure is not an errno */
  readonly errno: string;
  readonly syscall: string;
  constructor(message: string, errno = '', syscall = '') {
    super(message);
    this.errno = errno;
    this.syscall = syscall;
  }
}
