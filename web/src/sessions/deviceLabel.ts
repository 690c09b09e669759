// "Chrome on Linux" from a User-Agent: how sessions and device transfers name a device.
import { t } from '../i18n'

export function deviceLabel(ua: string | null | undefined): string {
  if (!ua) return t('sessions.unknownDevice')
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrome\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : t('sessions.browser')
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS' : /Windows/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : ''
  return os ? t('sessions.browserOn', { browser, os }) : browser
}
