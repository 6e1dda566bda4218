import { interopRow } from '../helpers/main-plugins';

interopRow('kea');
