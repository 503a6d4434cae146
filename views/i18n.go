package views

import (
	"fmt"
	"time"
)

// messages holds the words of the pages and emails end-customers see, in English and
// Bahasa Indonesia. Staff pages are in English only.
var messages = map[string]map[string]string{
	"en": {
		"subject":                          "Connect your WhatsApp number to %s",
		"hi":                               "Hi %s,",
		"intro":                            "You are one step away from using WhatsApp with %s: connect your WhatsApp Business number. It takes about five minutes, and you sign in with your Facebook account on a secure page.",
		"what_you_need":                    "What you need",
		"need_facebook":                    "A Facebook account, to sign in.",
		"need_phone":                       "A phone number that can receive a verification code by SMS or call.",
		"need_time":                        "About five minutes.",
		"button":                           "Connect WhatsApp",
		"expires":                          "This link works until %s.",
		"help":                             "Questions? Contact %s.",
		"ignore":                           "If you did not expect this email, you can ignore it.",
		"reminder_subject_unopened":        "Reminder: connect your WhatsApp number to %s",
		"reminder_subject_expiring":        "Your link to connect WhatsApp to %s expires soon",
		"reminder_unopened":                "A couple of days ago we sent you a link to connect your WhatsApp Business number to %s. It takes about five minutes, and your link below still works.",
		"reminder_expiring":                "Your link to connect WhatsApp to %s works until %s. If you still want to connect your number, it takes about five minutes:",
		"button_fallback":                  "If the button does not work, open this address in your browser:",
		"landing_title":                    "Connect WhatsApp",
		"landing_hello":                    "Welcome, %s",
		"landing_lead":                     "Connect your WhatsApp Business number to %s. It takes about five minutes, and you come back here when it is done.",
		"steps":                            "How it works",
		"step1":                            "Press “Connect WhatsApp” and sign in with Facebook.",
		"step2":                            "Choose or create your business, then enter the phone number to connect.",
		"step3":                            "Confirm the number with the code you receive by SMS or call.",
		"tips":                             "Before you start",
		"tip_display":                      "Do not choose “display name only”: connect the full phone number.",
		"tip_code":                         "Keep the phone at hand: the verification code expires within minutes.",
		"on_hold_title":                    "Your setup is on hold",
		"on_hold_body":                     "Connecting WhatsApp is paused for your account for now. Please contact %s to continue.",
		"connected_title":                  "Already connected",
		"connected_body":                   "This link was already used: your WhatsApp number is connected to %s. Nothing more to do.",
		"expired_title":                    "This link has expired",
		"revoked_title":                    "This link was cancelled",
		"expired_body":                     "Setup links work for a limited time. Ask for a fresh one and we will email it to the address we have on file.",
		"fresh_button":                     "Send me a fresh link",
		"fresh_sent":                       "Check your inbox — we sent a fresh link to %s. If it is not there in a few minutes, look in the spam folder. You can ask for another after %s.",
		"fresh_too_soon":                   "We already sent a fresh link to %s. Please check your inbox and spam folder; you can ask for another after %s.",
		"fresh_no_email":                   "We have no email address for you. Please contact %s for a new link.",
		"notfound_title":                   "Link not found",
		"notfound_body":                    "This link is not valid or has expired. Please use the newest link you received, or contact the sender.",
		"contact_us":                       "us",
		"success_title":                    "WhatsApp is connected",
		"success_body":                     "Your number %s is now connected to %s.",
		"success_next":                     "What happens next: %s can now send and receive WhatsApp messages for you, and your message templates are being synced. There is nothing more to do.",
		"continue":                         "Continue to %s",
		"pending_title":                    "We are confirming your connection",
		"pending_body":                     "We are finishing the setup. This page updates by itself in a few seconds.",
		"unconfirmed_title":                "Almost done",
		"unconfirmed_body":                 "We could not confirm your connection yet. You do not need to start again.",
		"unconfirmed_next_alerted":         "Our team has just been alerted. They will check the connection and email you at %s if anything is needed from you.",
		"unconfirmed_next_alerted_noemail": "Our team has just been alerted and will check the connection.",
		"unconfirmed_next_queue":           "This is now on our team's follow-up list. They will check the connection and email you at %s if anything is needed from you.",
		"unconfirmed_next_queue_noemail":   "This is now on our team's follow-up list; they will check the connection.",
		"pending_next":                     "You can close this page: we keep checking, and if the connection cannot be confirmed our team follows up.",
		"failed_next_alerted":              "Our team has been alerted. If trying again does not work, they will email you at %s to help.",
		"failed_next_alerted_noemail":      "Our team has been alerted and can help if trying again does not work.",
		"failed_next_queue":                "If you do not manage to connect, our team sees it on their follow-up list and will email you at %s to help.",
		"failed_next_queue_noemail":        "If you do not manage to connect, our team sees it on their follow-up list and will help.",
		"failed_title":                     "The connection did not go through",
		"try_again":                        "Try again",
		"failed_link_dead":                 "This setup link no longer works. Ask for a fresh one: we will email it to you.",
		"get_fresh_link":                   "Get a fresh link",
		"failed_open_email":                "To try again, open the link in the email we sent you.",
		"failed_code":                      "Error code: %s",
		"invalid_title":                    "We could not confirm this connection",
		"invalid_body":                     "This page cannot confirm anything by itself. If you were connecting WhatsApp, please open the link from your email again.",
		"reason_signup_cancelled":          "The signup was closed or cancelled before it finished.",
		"reason_token_exchange_failed":     "We could not get access to your number this time. This is usually temporary: please try again in a few minutes.",
		"reason_link_expired":              "This setup link had expired.",
		"reason_link_revoked":              "This setup link was cancelled.",
		"reason_link_already_used":         "This setup link was already used.",
		"reason_unknown":                   "Something went wrong during the signup. If the number is still registered in the WhatsApp app, delete that account in the app first (Settings › Account › Delete account); otherwise simply try again.",
		"skip":                             "Skip to content",
		"home_title":                       "%s onboarding",
		"home_body":                        "This portal connects %s customers to WhatsApp.",
		"home_customer":                    "If you are a customer, open the link from your setup email.",
		"staff_sign_in":                    "Staff sign in",
		"err_title_403":                    "Not allowed",
		"err_body_403":                     "Your request was refused. Reload the page and try again.",
		"err_title_404":                    "Page not found",
		"err_body_404":                     "This page does not exist. If you followed a link from an email, please use the newest email you received.",
		"err_title_429":                    "Too many requests",
		"err_body_429":                     "Please wait a minute and try again.",
		"err_title_500":                    "Something went wrong",
		"err_body_500":                     "We could not complete your request. Please try again in a moment.",
		"err_title_other":                  "The request could not be completed",
		"err_body_other":                   "Please go back and try again.",
		"reference":                        "Reference: %s",
		"switch_language":                  "Bahasa Indonesia",
		"existing_q":                       "Is this number already used in the WhatsApp or WhatsApp Business app on a phone?",
		"existing_yes":                     "Then it must first be removed from that app: in the app, open Settings › Account › Delete my account. This deletes the account on that phone, with its chats and groups, so back up what you want to keep first (Settings › Chats › Chat backup). Once connected, you send and receive messages through %s instead of the app.",
		"yes":                              "Yes:",
		"no":                               "No:",
		"existing_no":                      "If the number is new, or not in the WhatsApp app, there is nothing to do first.",
		"revoked_body":                     "The sender cancelled this link, so it no longer works. Ask for a fresh one and we will email it to the address we have on file.",
		"preheader":                        "Connect your WhatsApp number to %s in about five minutes. Your link works until %s.",
	},
	"id": {
		"subject":                          "Hubungkan nomor WhatsApp Anda ke %s",
		"hi":                               "Halo %s,",
		"intro":                            "Tinggal satu langkah lagi agar Anda bisa memakai WhatsApp di %s: hubungkan nomor WhatsApp Business Anda. Prosesnya sekitar lima menit, cukup masuk dengan akun Facebook Anda di halaman yang aman.",
		"what_you_need":                    "Yang Anda perlukan",
		"need_facebook":                    "Akun Facebook, untuk masuk.",
		"need_phone":                       "Nomor telepon yang dapat menerima kode verifikasi lewat SMS atau panggilan.",
		"need_time":                        "Sekitar lima menit.",
		"button":                           "Hubungkan WhatsApp",
		"expires":                          "Tautan ini berlaku sampai %s.",
		"help":                             "Ada pertanyaan? Hubungi %s.",
		"ignore":                           "Jika Anda tidak mengharapkan email ini, abaikan saja.",
		"reminder_subject_unopened":        "Pengingat: hubungkan nomor WhatsApp Anda ke %s",
		"reminder_subject_expiring":        "Tautan untuk menghubungkan WhatsApp ke %s segera kedaluwarsa",
		"reminder_unopened":                "Beberapa hari lalu kami mengirimkan tautan untuk menghubungkan nomor WhatsApp Business Anda ke %s. Prosesnya sekitar lima menit, dan tautan Anda di bawah ini masih berlaku.",
		"reminder_expiring":                "Tautan Anda untuk menghubungkan WhatsApp ke %s berlaku sampai %s. Jika Anda masih ingin menghubungkan nomor Anda, prosesnya sekitar lima menit:",
		"button_fallback":                  "Jika tombol tidak berfungsi, buka alamat ini di browser Anda:",
		"landing_title":                    "Hubungkan WhatsApp",
		"landing_hello":                    "Selamat datang, %s",
		"landing_lead":                     "Hubungkan nomor WhatsApp Business Anda ke %s. Hanya sekitar lima menit, dan Anda akan kembali ke halaman ini setelah selesai.",
		"steps":                            "Cara kerjanya",
		"step1":                            "Tekan “Hubungkan WhatsApp” lalu masuk dengan Facebook.",
		"step2":                            "Pilih atau buat bisnis Anda, lalu masukkan nomor telepon yang akan dihubungkan.",
		"step3":                            "Konfirmasi nomor dengan kode yang Anda terima lewat SMS atau panggilan.",
		"tips":                             "Sebelum mulai",
		"tip_display":                      "Jangan pilih “hanya nama tampilan”: hubungkan nomor telepon lengkap.",
		"tip_code":                         "Siapkan ponsel Anda: kode verifikasi kedaluwarsa dalam beberapa menit.",
		"on_hold_title":                    "Penyiapan Anda sedang ditunda",
		"on_hold_body":                     "Untuk sementara, penghubungan WhatsApp untuk akun Anda dijeda. Silakan hubungi %s untuk melanjutkan.",
		"connected_title":                  "Sudah terhubung",
		"connected_body":                   "Tautan ini sudah digunakan: nomor WhatsApp Anda sudah terhubung ke %s. Tidak ada lagi yang perlu dilakukan.",
		"expired_title":                    "Tautan ini sudah kedaluwarsa",
		"revoked_title":                    "Tautan ini sudah dibatalkan",
		"expired_body":                     "Tautan penyiapan berlaku untuk waktu terbatas. Minta tautan baru dan kami akan mengirimkannya ke email yang terdaftar.",
		"fresh_button":                     "Kirimi saya tautan baru",
		"fresh_sent":                       "Coba cek kotak masuk Anda — tautan baru sudah kami kirim ke %s. Kalau belum muncul dalam beberapa menit, lihat folder spam. Anda bisa meminta tautan lagi setelah %s.",
		"fresh_too_soon":                   "Tautan baru sudah kami kirim ke %s. Silakan cek kotak masuk dan folder spam; Anda bisa meminta tautan lagi setelah %s.",
		"fresh_no_email":                   "Kami tidak memiliki alamat email Anda. Silakan hubungi %s untuk tautan baru.",
		"notfound_title":                   "Tautan tidak ditemukan",
		"notfound_body":                    "Tautan ini tidak valid atau sudah kedaluwarsa. Gunakan tautan terbaru yang Anda terima, atau hubungi pengirimnya.",
		"contact_us":                       "kami",
		"success_title":                    "WhatsApp sudah terhubung",
		"success_body":                     "Nomor Anda %s kini terhubung ke %s.",
		"success_next":                     "Selanjutnya: %s kini dapat mengirim dan menerima pesan WhatsApp untuk Anda, dan template pesan Anda sedang disinkronkan. Tidak ada lagi yang perlu dilakukan.",
		"continue":                         "Lanjut ke %s",
		"pending_title":                    "Kami sedang mengonfirmasi koneksi Anda",
		"pending_body":                     "Kami sedang menyelesaikan penyiapan. Halaman ini akan diperbarui sendiri dalam beberapa detik.",
		"unconfirmed_title":                "Hampir selesai",
		"unconfirmed_body":                 "Kami belum dapat mengonfirmasi koneksi Anda. Anda tidak perlu mengulang.",
		"unconfirmed_next_alerted":         "Tim kami baru saja diberi tahu. Mereka akan memeriksa koneksinya dan mengirim email ke %s jika ada yang diperlukan dari Anda.",
		"unconfirmed_next_alerted_noemail": "Tim kami baru saja diberi tahu dan akan memeriksa koneksinya.",
		"unconfirmed_next_queue":           "Ini sekarang ada di daftar tindak lanjut tim kami. Mereka akan memeriksa koneksinya dan mengirim email ke %s jika ada yang diperlukan dari Anda.",
		"unconfirmed_next_queue_noemail":   "Ini sekarang ada di daftar tindak lanjut tim kami; mereka akan memeriksa koneksinya.",
		"pending_next":                     "Anda boleh menutup halaman ini: kami terus memeriksa, dan jika koneksi tidak dapat dipastikan, tim kami akan menindaklanjuti.",
		"failed_next_alerted":              "Tim kami sudah diberi tahu. Jika mencoba lagi tidak berhasil, mereka akan mengirim email ke %s untuk membantu.",
		"failed_next_alerted_noemail":      "Tim kami sudah diberi tahu dan dapat membantu jika mencoba lagi tidak berhasil.",
		"failed_next_queue":                "Jika Anda belum berhasil terhubung, tim kami melihatnya di daftar tindak lanjut dan akan mengirim email ke %s untuk membantu.",
		"failed_next_queue_noemail":        "Jika Anda belum berhasil terhubung, tim kami melihatnya di daftar tindak lanjut dan akan membantu.",
		"failed_title":                     "Koneksi tidak berhasil",
		"try_again":                        "Coba lagi",
		"failed_link_dead":                 "Tautan penyiapan ini sudah tidak berlaku. Minta tautan baru: kami akan mengirimkannya lewat email.",
		"get_fresh_link":                   "Minta tautan baru",
		"failed_open_email":                "Untuk mencoba lagi, buka tautan di email yang kami kirimkan kepada Anda.",
		"failed_code":                      "Kode kesalahan: %s",
		"invalid_title":                    "Kami tidak dapat mengonfirmasi koneksi ini",
		"invalid_body":                     "Halaman ini tidak dapat mengonfirmasi apa pun dengan sendirinya. Jika Anda sedang menghubungkan WhatsApp, buka lagi tautan dari email Anda.",
		"reason_signup_cancelled":          "Pendaftaran ditutup atau dibatalkan sebelum selesai.",
		"reason_token_exchange_failed":     "Kali ini kami belum bisa mendapatkan akses ke nomor Anda. Biasanya hanya sementara: coba lagi dalam beberapa menit.",
		"reason_link_expired":              "Tautan penyiapan ini sudah kedaluwarsa.",
		"reason_link_revoked":              "Tautan penyiapan ini sudah dibatalkan.",
		"reason_link_already_used":         "Tautan penyiapan ini sudah digunakan.",
		"reason_unknown":                   "Terjadi kesalahan saat pendaftaran. Jika nomor ini masih terdaftar di aplikasi WhatsApp, hapus dulu akun tersebut di aplikasi (Setelan › Akun › Hapus akun); jika tidak, cukup coba lagi.",
		"skip":                             "Langsung ke konten",
		"home_title":                       "Penyiapan %s",
		"home_body":                        "Portal ini menghubungkan pelanggan %s ke WhatsApp.",
		"home_customer":                    "Jika Anda pelanggan, buka tautan dari email penyiapan Anda.",
		"staff_sign_in":                    "Masuk staf",
		"err_title_403":                    "Tidak diizinkan",
		"err_body_403":                     "Permintaan Anda ditolak. Muat ulang halaman lalu coba lagi.",
		"err_title_404":                    "Halaman tidak ditemukan",
		"err_body_404":                     "Halaman ini tidak ada. Jika Anda membuka tautan dari email, gunakan email terbaru yang Anda terima.",
		"err_title_429":                    "Terlalu banyak permintaan",
		"err_body_429":                     "Mohon tunggu sebentar, lalu coba lagi.",
		"err_title_500":                    "Terjadi kesalahan",
		"err_body_500":                     "Permintaan Anda belum dapat kami selesaikan. Silakan coba lagi sebentar lagi.",
		"err_title_other":                  "Permintaan tidak dapat diselesaikan",
		"err_body_other":                   "Silakan kembali lalu coba lagi.",
		"reference":                        "Referensi: %s",
		"switch_language":                  "English",
		"existing_q":                       "Apakah nomor ini sudah dipakai di aplikasi WhatsApp atau WhatsApp Business di ponsel?",
		"existing_yes":                     "Kalau ya, nomor itu harus dilepas dulu dari aplikasinya: buka Setelan › Akun › Hapus akun saya. Langkah ini menghapus akun di ponsel tersebut beserta chat dan grupnya, jadi cadangkan dulu yang ingin Anda simpan (Setelan › Chat › Cadangan chat). Setelah terhubung, pesan dikirim dan diterima lewat %s, bukan lewat aplikasi.",
		"yes":                              "Ya:",
		"no":                               "Tidak:",
		"existing_no":                      "Kalau nomornya baru, atau belum dipakai di aplikasi WhatsApp, tidak ada yang perlu disiapkan.",
		"revoked_body":                     "Pengirim telah membatalkan tautan ini, jadi tautan ini tidak bisa dipakai lagi. Minta tautan baru, nanti kami kirimkan ke email yang terdaftar.",
		"preheader":                        "Hubungkan nomor WhatsApp Anda ke %s, cukup sekitar lima menit. Tautan Anda berlaku sampai %s.",
	},
}

// T returns the message key in the locale (English when unknown), formatted with args.
func T(locale, key string, args ...any) string {
	m, ok := messages[locale]
	if !ok {
		m = messages["en"]
	}
	s, ok := m[key]
	if !ok {
		s = messages["en"][key]
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

var monthsID = []string{"Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober", "November", "Desember"}

// LongDate writes a moment the way the locale reads it, in the zone (UTC when nil)
// with the zone's abbreviation: "5 December 2026, 14:00 WIB", "5 Desember 2026, 14.00 WIB".
func LongDate(locale string, t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	if locale == "id" {
		return fmt.Sprintf("%d %s %d, %02d.%02d %s", t.Day(), monthsID[t.Month()-1], t.Year(), t.Hour(), t.Minute(), t.Format("MST"))
	}
	return t.Format("2 January 2006, 15:04 MST")
}

// Clock writes a moment soon to come as the locale reads it, in the zone: the time of
// day if it is today there ("14:08 WIB", "14.08 WIB"), else with the date.
func Clock(locale string, t, now time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	t, now = t.In(loc), now.In(loc)
	if t.YearDay() != now.YearDay() || t.Year() != now.Year() {
		return LongDate(locale, t, loc)
	}
	if locale == "id" {
		return fmt.Sprintf("%02d.%02d %s", t.Hour(), t.Minute(), t.Format("MST"))
	}
	return t.Format("15:04 MST")
}

// Reason explains a known failure reason code in plain words (the generic words for
// "" or a code without words of its own).
func Reason(locale, code string) string {
	m, ok := messages[locale]
	if !ok {
		m = messages["en"]
	}
	if s, ok := m["reason_"+code]; ok && code != "" {
		return s
	}
	return T(locale, "reason_unknown")
}
