# Installs the bridge's API key (SPACE_DISCOURSE_API_KEY, from the vault) as a global key of the
# forum, idempotently. Run by roles/discourse with `rails r` inside the container; prints one
# word: present, installed or revoked.
#
# Discourse keeps only the SHA-256 of a key (app/models/api_key.rb: key_hash, hash_key; a key is
# generated only when no key_hash is given), and a key with no user and no scopes is a global
# one, used with any Api-Username (Admin > API > "All users").
secret = ENV.fetch("SPACE_DISCOURSE_API_KEY")
digest = ApiKey.hash_key(secret)
known = ApiKey.where(key_hash: digest).first
if known.nil?
  ApiKey.create!(
    key_hash: digest,
    truncated_key: secret[0, 4],
    description: "space-bridge (installed by Ansible)",
    created_by: Discourse.system_user,
  )
  puts "installed"
elsif known.revoked_at
  # Revoked by an admin on purpose: not brought back behind their back.
  puts "revoked"
else
  puts "present"
end
