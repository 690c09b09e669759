// Names for the server's JSON shapes, all from the generated schema.d.ts (openapi-typescript
// over openapi/openapi.json): nothing here is written by hand.
import type { components } from './schema'

type Schemas = components['schemas']

export type User = Schemas['User']
export type SignedIn = Schemas['SignedIn']
export type CurrentSession = Schemas['CurrentSession']
export type Permissions = Schemas['Permissions']
export type SessionInfo = Schemas['SessionInfo']
export type Ceremony = Schemas['Ceremony']
export type PasskeyInfo = Schemas['PasskeyInfo']
export type Preferences = Schemas['Preferences']
export type PreferencesUpdate = Schemas['PreferencesUpdate']
export type ProfilePatch = Schemas['ProfilePatch']
export type NewUser = Schemas['NewUser']
export type Identity = Schemas['IdentityInfo']
export type BlobInfo = Schemas['BlobInfo']
export type Blob = Schemas['Blob']
/** A key slot as sent (`Slot`) or as stored (`StoredSlot`, with its dates). */
export type KeySlot = Schemas['Slot'] & Partial<Pick<Schemas['StoredSlot'], 'createdAt' | 'lastUsedAt'>>
export type Collection = Schemas['Collection']
export type CommitBody = Schemas['KmCommit']
export type RoleInfo = Schemas['RoleInfo']
export type PermissionInfo = Schemas['PermissionInfo']
export type UserSummary = Schemas['UserSummary']
export type UserPage = Schemas['UserPage']
export type Friend = Schemas['Friend']
export type Invitation = Schemas['Invitation']
export type PendingRevocation = Schemas['PendingRevocation']
export type FlushResult = Schemas['FlushResultItem']
export type FlushItem = Schemas['FlushRequestItem']
export type SignedAction = Schemas['SignedRequest']
export type Direction = Schemas['Direction']
export type FriendMessage = Schemas['MessageRequest']
export type LocationSharing = Schemas['LocationSharing']
export type DeviceTransfer = Schemas['DeviceTransfer']
export type IncomingShare = Schemas['IncomingShare']
