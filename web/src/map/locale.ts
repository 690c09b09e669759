// MapLibre's own interface strings (control titles, the map's accessible name) in the user's
// language, as its `locale` option takes them. Read when a map is made: the map screen is left
// to change the language in Settings.
import { t } from '../i18n'

export function mapUiStrings(): Record<string, string> {
  return {
    'AttributionControl.ToggleAttribution': t('map.ui.toggleAttribution'),
    'AttributionControl.MapFeedback': t('map.ui.mapFeedback'),
    'FullscreenControl.Enter': t('map.ui.enterFullscreen'),
    'FullscreenControl.Exit': t('map.ui.exitFullscreen'),
    'GeolocateControl.FindMyLocation': t('map.ui.findMyLocation'),
    'GeolocateControl.LocationNotAvailable': t('map.ui.locationNotAvailable'),
    'LogoControl.Title': t('map.ui.logo'),
    'Map.Title': t('map.ui.map'),
    'Marker.Title': t('map.ui.marker'),
    'NavigationControl.ResetBearing': t('map.ui.resetBearing'),
    'NavigationControl.ZoomIn': t('map.ui.zoomIn'),
    'NavigationControl.ZoomOut': t('map.ui.zoomOut'),
    'Popup.Close': t('map.ui.closePopup'),
  }
}
