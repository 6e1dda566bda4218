/**
 * Options the client builds itself in every message it sends. A `provide` entry may not set
 * them: the config refuses them (code 7), and the message builder never lets one through.
 * 61 is the one exception the config allows: a provided client id replaces ours (the
 * attachment turns it into the client id before the message builder sees `provide`).
 */
export const CLIENT_OWNED_OPTIONS: ReadonlySet<number> = new Set([
  0, // pad
  50, // requested IP address
  51, // lease time: we take what the server grants
  52, // option overload
  53, // message type
  54, // server identifier
  55, // parameter request list (built from `request`)
  57, // maximum message size
  61, // client identifier
  255, // end
]);

export const CLIENT_ID_OPTION = 61;
