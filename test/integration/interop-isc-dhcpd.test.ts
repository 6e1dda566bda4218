import { interopRow } from '../helpers/main-plugins';

interopRow('isc-dhcpd');
