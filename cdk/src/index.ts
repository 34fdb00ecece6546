export { Keyhole, KeyholeCustomDomain, KeyholeProps } from './keyhole';
