provider "aws" {
  region              = "us-west-2"
  profile             = "target"
  shared_config_files = ["~/.aws/config"]
}

provider "aws" {
  alias               = "tf"
  region              = "us-west-2"
  profile             = "target-tf"
  shared_config_files = ["~/.aws/config"]
}
